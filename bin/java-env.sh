# Sourced by the scripts in bin/ and .ci/run: finds a JDK 25 and exports JAVA_HOME and JAVA.
cogvlm4j_java_ok() {
    local v
    v=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n 1)
    [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null
}
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && cogvlm4j_java_ok "$JAVA_HOME/bin/java"; then
    :
elif command -v java >/dev/null 2>&1 && cogvlm4j_java_ok "$(command -v java)"; then
    JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
else
    JAVA_HOME=""
    for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/java-25* /usr/lib/jvm/jdk-25* /opt/java/openjdk; do
        if [ -x "$d/bin/java" ] && cogvlm4j_java_ok "$d/bin/java"; then JAVA_HOME="$d"; break; fi
    done
    if [ -z "$JAVA_HOME" ]; then
        echo "error: cogvlm4j needs JDK 25 or newer; set JAVA_HOME to it" >&2
        exit 1
    fi
fi
export JAVA_HOME
JAVA="$JAVA_HOME/bin/java"
