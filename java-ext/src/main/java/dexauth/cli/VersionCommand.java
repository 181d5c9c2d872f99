package dexauth.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

@Command(name = "version", description = "Print the version of authctl and of the Dex release it targets.")
final class VersionCommand implements Runnable {

    @CommandLine.Option(names = "-o", description = "Output format: text or json (default: text).", defaultValue = "text")
    String output;

    static Properties versions() {
        Properties p = new Properties();
        try (InputStream in = VersionCommand.class.getResourceAsStream("/dexauth-version.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    public static String version() { return versions().getProperty("version", "unknown"); }

    @Override
    public void run() {
        Properties p = versions();
        if ("json".equals(output)) {
            System.out.printf("{\"authctl\":\"%s\",\"dex\":\"%s\",\"java\":\"%s\"}%n",
                    p.getProperty("version"), p.getProperty("dex"), System.getProperty("java.version"));
        } else {
            System.out.printf("authctl %s (targets Dex %s, Java %s)%n",
                    p.getProperty("version"), p.getProperty("dex"), System.getProperty("java.version"));
        }
    }

    static final class Provider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() { return new String[]{"authctl " + version()}; }
    }
}
