package dev.cogvlm4j.server;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cogvlm4j.CogVlm;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web chat page in a real headless Chromium (Debian's chromium and chromedriver, which {@code bin/test} installs
 * when it can): pick an image, ask, wait for the streamed answer, and keep a screenshot that must not be blank.
 */
@Timeout(180)
class WebPageBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path ROOT = Paths.get("").toAbsolutePath().getParent();

    @Test
    void chatWithAnImageInTheBrowser(@TempDir Path profile) throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
                "Debian chromium and chromium-driver are not installed (bin/test installs them as root)");
        try (CogVlm vlm = CogVlm.load(ROOT.resolve("models/cogvlm-tiny-random"));
             ChatServer server = new ChatServer(vlm, "tiny", ServerConfig.defaults().withPort(0))) {
            ChromeOptions o = new ChromeOptions();
            o.setBinary(CHROMIUM.toFile());
            o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
                    "--window-size=1280,900", "--user-data-dir=" + profile.toAbsolutePath());
            ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
                    .usingAnyFreePort().build();
            WebDriver d = new ChromeDriver(service, o);
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(60));
                d.get("http://127.0.0.1:" + server.port() + "/");
                wait.until(x -> x.findElement(By.id("model")).getText().contains("tiny"));
                d.findElement(By.id("file")).sendKeys(ROOT.resolve("examples/coins.png").toAbsolutePath().toString());
                wait.until(x -> x.findElement(By.id("preview")).isDisplayed());
                d.findElement(By.id("max_tokens")).clear();
                d.findElement(By.id("max_tokens")).sendKeys("24");
                d.findElement(By.id("prompt")).sendKeys("How many coins are there?");
                d.findElement(By.id("send")).click();
                wait.until(x -> {
                    var answers = x.findElements(By.cssSelector(".msg.assistant"));
                    WebElement send = x.findElement(By.id("send"));
                    return !answers.isEmpty() && !answers.get(0).getText().isBlank() && send.isEnabled();
                });
                String answer = d.findElement(By.cssSelector(".msg.assistant")).getText();
                assertTrue(!answer.startsWith("Error"), answer);
                // Grounding boxes as the server sends them are drawn over the image, scaled to its displayed size.
                ((org.openqa.selenium.JavascriptExecutor) d).executeScript(
                        "drawBoxes([{phrase: 'coin', box_999: [100,100,500,500], box_pixels: [38, 30, 192, 151]}])");
                WebElement box = d.findElement(By.cssSelector("#boxes .box"));
                assertTrue(box.getText().contains("coin"), box.getText());
                assertTrue(box.getSize().getWidth() > 20 && box.getSize().getHeight() > 20, "box drawn: " + box.getSize());
                byte[] png = ((TakesScreenshot) d).getScreenshotAs(OutputType.BYTES);
                Path shot = ROOT.resolve("cogvlm4j-server/target/web-chat.png");
                Files.createDirectories(shot.getParent());
                Files.write(shot, png);
                BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
                Set<Integer> colours = new HashSet<>();
                for (int y = 0; y < img.getHeight(); y += 4) {
                    for (int x = 0; x < img.getWidth(); x += 4) {
                        colours.add(img.getRGB(x, y));
                    }
                }
                assertTrue(colours.size() > 50, "screenshot looks blank: " + colours.size() + " colours (" + shot + ")");
            } finally {
                d.quit();
            }
        }
    }
}
