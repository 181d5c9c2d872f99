package dexauth.cli;

import dexauth.errors.Unauthenticated;
import dexauth.errors.LoginRequired;
import dexauth.kubectl.ExecCredential;
import dexauth.kubectl.WorkstationLogin;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The person in front of an exec plugin. kubectl keeps the plugin's stdout for the credential,
 * so prompts go to stderr and answers come from the controlling terminal (/dev/tty), with echo
 * off for secrets.
 */
final class Terminal implements WorkstationLogin.Interaction {
    private static final File TTY = new File("/dev/tty");
    private final Boolean kubectlSaysInteractive;

    Terminal(String execInfo) {
        this.kubectlSaysInteractive = ExecCredential.interactive(execInfo);
    }

    @Override
    public boolean interactive() {
        if (kubectlSaysInteractive != null) return kubectlSaysInteractive;
        try (FileInputStream ignored = new FileInputStream(TTY)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public String ask(String prompt) {
        System.err.print(prompt);
        System.err.flush();
        return readLine();
    }

    @Override
    public char[] askSecret(String prompt) {
        System.err.print(prompt);
        System.err.flush();
        boolean hidden = stty("-echo");
        try {
            return readLine().toCharArray();
        } finally {
            if (hidden) {
                stty("echo");
                System.err.println();
            }
        }
    }

    private static String readLine() {
        try {
            // Not closed: closing /dev/tty mid-session can reset the terminal on some systems.
            BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(TTY), StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null) throw new Unauthenticated("the terminal closed before an answer was typed");
            return line;
        } catch (IOException e) {
            throw new LoginRequired("cannot read from the terminal: " + e.getMessage());
        }
    }

    private static boolean stty(String setting) {
        try {
            Process p = new ProcessBuilder("stty", setting).redirectInput(TTY)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public void tell(String line) {
        System.err.println(line);
        System.err.flush();
    }

    @Override
    public boolean hasBrowser() {
        return browserCommand() != null;
    }

    @Override
    public boolean openBrowser(URI url) {
        List<String> cmd = browserCommand();
        if (cmd == null) return false;
        try {
            new ProcessBuilder(cmd.get(0), url.toString()).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** $BROWSER, else xdg-open in a desktop session, else macOS' open; null over plain SSH. */
    private static List<String> browserCommand() {
        String browser = System.getenv("BROWSER");
        if (browser != null && !browser.isBlank()) return List.of(browser.split(":")[0].trim());
        boolean desktop = System.getenv("DISPLAY") != null || System.getenv("WAYLAND_DISPLAY") != null;
        if (desktop) {
            String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
            for (String dir : path.split(File.pathSeparator)) {
                if (Files.isExecutable(Path.of(dir, "xdg-open"))) return List.of(Path.of(dir, "xdg-open").toString());
            }
        }
        if (System.getProperty("os.name", "").toLowerCase().contains("mac")) return List.of("/usr/bin/open");
        return null;
    }
}
