package dev.cogvlm4j.cli;

import dev.cogvlm4j.io.ModelFormatException;
import dev.cogvlm4j.vision.ImageFormatException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code cogvlm4j} command line. */
@Command(name = "cogvlm4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Run CogVLM, CogAgent and CogVLM2 vision-language models in pure Java.",
        subcommands = {RunCommand.class, ChatCommand.class, InfoCommand.class, LogitsCommand.class,
                GenerateCommand.class, TokenizeCommand.class, QuantizeCommand.class, BenchCommand.class, GroundCommand.class, ServeCommand.class,
                TrainCommand.class, EvaluateCommand.class, WorldCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Exit code for bad input (files, requests, arguments' values). */
    static final int BAD_INPUT = 1;
    /** Exit code for unusable command-line syntax. */
    static final int USAGE = 2;
    /** Exit code for a bug. */
    static final int INTERNAL = 70;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Entry point. */
    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code. */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /** Runs the command line with its output and errors sent to the given writers (for tests and embedding). */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    /** The configured picocli command line: one-line errors, never a stack trace for bad input. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter err = c.getErr();
            err.println("error: " + ex.getMessage());
            err.println("usage: " + c.getCommandSpec().qualifiedName() + " " + synopsisHint(c)
                    + "  (see '" + c.getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            PrintWriter err = c.getErr();
            if (isUserError(ex)) {
                err.println("error: " + oneLine(ex));
                err.flush();
                return BAD_INPUT;
            }
            err.println("internal error: " + ex);
            if (System.getenv("COGVLM4J_DEBUG") != null) {
                ex.printStackTrace(err);
            } else {
                err.println("(set COGVLM4J_DEBUG=1 for the stack trace)");
            }
            err.flush();
            return INTERNAL;
        });
        return cl;
    }

    private static String synopsisHint(CommandLine c) {
        String s = c.getHelp().synopsis(0).trim();
        int nl = s.indexOf('\n');
        return (nl > 0 ? s.substring(0, nl) : s).replaceFirst("^" + java.util.regex.Pattern.quote(c.getCommandSpec().qualifiedName()) + "\\s*", "");
    }

    static boolean isUserError(Throwable ex) {
        return ex instanceof ModelFormatException || ex instanceof ImageFormatException
                || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                || ex instanceof IOException || ex instanceof UncheckedIOException || ex instanceof UserException
                || ex instanceof OutOfMemoryError;
    }

    static String oneLine(Throwable ex) {
        String m = ex.getMessage();
        if (ex instanceof OutOfMemoryError) {
            m = "out of memory (" + m + "); raise -Xmx via COGVLM4J_JAVA_OPTS";
        } else if (ex instanceof java.nio.file.NoSuchFileException) {
            m = "no such file: " + m;
        } else if (m == null) {
            m = ex.getClass().getSimpleName();
        }
        return m.replace('\n', ' ');
    }

    /** A bad-input error raised by the CLI itself. */
    static final class UserException extends RuntimeException {
        UserException(String message) {
            super(message);
        }
    }

    /** Reads the version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"cogvlm4j " + (v != null ? v : "dev") + " (Java " + Runtime.version() + ")"};
        }
    }
}
