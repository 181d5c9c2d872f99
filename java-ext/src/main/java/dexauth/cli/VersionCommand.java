package dexauth.cli;

import dexauth.config.Versions;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "version", description = "Print the version of authctl and of the Dex release it targets.")
final class VersionCommand implements Runnable {

    @CommandLine.Option(names = "-o", description = "Output format: text or json (default: text).", defaultValue = "text")
    String output;

    public static String version() { return Versions.authctl(); }

    @Override
    public void run() {
        if ("json".equals(output)) {
            System.out.printf("{\"authctl\":\"%s\",\"dex\":\"%s\",\"java\":\"%s\"}%n",
                    Versions.authctl(), Versions.dex(), System.getProperty("java.version"));
        } else {
            System.out.printf("authctl %s (targets Dex %s, Java %s)%n",
                    Versions.authctl(), Versions.dex(), System.getProperty("java.version"));
        }
    }

    static final class Provider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() { return new String[]{"authctl " + version()}; }
    }
}
