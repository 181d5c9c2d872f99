package dexauth.kubectl;

import java.nio.file.Path;

/** The user's home as kubectl finds it: $HOME first (Java's user.home ignores it), then the account's. */
public final class UserHome {
    private UserHome() {}

    public static Path dir() {
        String home = System.getenv("HOME");
        return Path.of(home != null && !home.isBlank() ? home : System.getProperty("user.home"));
    }

    /** kubectl's default kubeconfig: the first file of $KUBECONFIG, else ~/.kube/config. */
    public static Path kubeconfig() {
        String env = System.getenv("KUBECONFIG");
        if (env != null && !env.isBlank()) return Path.of(env.split(java.io.File.pathSeparator)[0]);
        return dir().resolve(".kube").resolve("config");
    }
}
