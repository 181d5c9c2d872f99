package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.users.UserService;
import io.fabric8.kubernetes.client.KubernetesClient;
import dexauth.errors.Conflict;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.Invalid;
import dexauth.errors.LoginRequired;
import dexauth.errors.Unavailable;
import dexauth.pki.Pem;
import dexauth.rbac.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.Writer;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "import", mixinStandardHelpOptions = true,
        description = {"Create many users from a CSV or YAML file, with a progress bar and a report.",
                "CSV lines: email,username,roles (roles separated by ';'); YAML: a list of",
                "{email, username, roles}. Each new user gets a random one-time password (must",
                "change), written to --passwords-out (mode 0600). Existing users are skipped."})
final class ImportCommand implements Callable<Integer> {
    @Mixin Session session;
    @Parameters(index = "0", description = "CSV or YAML file.") Path file;
    @Option(names = "--passwords-out", required = true,
            description = "Where to write 'email,one-time password' lines for the created users (0600).")
    Path passwordsOut;

    record Entry(String email, String username, Set<Role> roles) {}

    /** Creates one user with a new one-time password; returns that password. */
    private interface Creator {
        char[] create(Entry e);
    }

    @Override
    public Integer call() throws Exception {
        List<Entry> entries = read(file);
        if (Files.exists(passwordsOut)) throw new UserError(passwordsOut + " exists; refusing to overwrite it");
        if (session.breakGlass) {
            try (KubernetesClient kube = session.adminKube(); DexApi dex = session.dex()) {
                UserService service = session.users(kube, dex, Session.BREAK_GLASS_ACTOR);
                Set<String> inDex = service.dexEmails();
                return importAll(entries, e -> {
                    char[] pw = PasswordHasher.randomPassword(UserService.ONE_TIME_PASSWORD_LENGTH);
                    service.add(e.email(), e.username(), e.roles(), PasswordHasher.hash(pw, service.bcryptCost()), inDex);
                    return pw;
                });
            }
        }
        AccountApi api = session.accountApi(session.login().idToken());
        return importAll(entries, e -> api.addGenerated(e.email(), e.username(), e.roles()).toCharArray());
    }

    /**
     * Creates the users on a few workers at once (bcrypt keeps the cores busy while the cluster
     * writes wait), writing each one-time password to the 0600 file as soon as its user exists:
     * whatever fails later, the file is complete for what was created.
     */
    private int importAll(List<Entry> entries, Creator creator) throws Exception {
        List<String> created = new ArrayList<>(), skipped = new ArrayList<>(), failed = new ArrayList<>();
        AtomicInteger done = new AtomicInteger();
        AtomicReference<DomainException> stopped = new AtomicReference<>();
        Pem.writePrivate(passwordsOut, "");
        int workers = Math.max(4, 4 * Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        try (Writer out = Files.newBufferedWriter(passwordsOut, StandardOpenOption.APPEND)) {
            List<Future<?>> jobs = new ArrayList<>();
            for (Entry e : entries) {
                jobs.add(pool.submit((Callable<Void>) () -> {
                    if (stopped.get() != null) return null;
                    try {
                        char[] pw = creator.create(e);
                        synchronized (out) {
                            created.add(e.email());
                            out.write(e.email() + "," + new String(pw) + "\n");
                            out.flush();
                        }
                        PasswordHasher.wipe(pw);
                    } catch (Conflict exists) {
                        synchronized (out) { skipped.add(e.email() + " (exists)"); }
                    } catch (Forbidden | LoginRequired | Unavailable stop) {
                        stopped.compareAndSet(null, stop); // no right, or the cluster or Dex failed: stop
                    } catch (DomainException r) {
                        synchronized (out) { failed.add(e.email() + ": " + r.getMessage()); }
                    } finally {
                        progress(done.incrementAndGet(), entries.size());
                    }
                    return null;
                }));
            }
            for (Future<?> j : jobs) j.get();
        } finally {
            pool.shutdownNow();
        }
        System.err.println();
        System.out.printf("created %d, skipped %d, failed %d%s%n", created.size(), skipped.size(), failed.size(),
                stopped.get() == null ? "" : ", not attempted " + (entries.size() - created.size() - skipped.size() - failed.size()));
        skipped.forEach(x -> System.out.println("  skipped " + x));
        failed.forEach(f -> System.out.println("  FAILED  " + f));
        if (!created.isEmpty()) System.out.println("one-time passwords: " + passwordsOut + " (mode 0600)");
        else Files.deleteIfExists(passwordsOut);
        if (stopped.get() != null) throw stopped.get(); // its exit code says why the rest was not attempted
        // Some entries were refused (each is listed above); the others were created.
        return failed.isEmpty() ? ExitCode.OK.code : ExitCode.INVALID.code;
    }

    private static synchronized void progress(int done, int total) {
        int width = 30, filled = total == 0 ? width : done * width / total;
        System.err.printf("\r[%s%s] %d/%d", "#".repeat(filled), " ".repeat(width - filled), done, total);
    }

    static List<Entry> read(Path file) throws IOException {
        if (!Files.isReadable(file)) throw new UserError(file + " is missing or unreadable");
        List<Entry> out = new ArrayList<>();
        String name = file.getFileName().toString().toLowerCase();
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
            JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
            if (root == null || !root.isArray()) throw new UserError(file + ": expected a YAML list of users");
            int n = 0;
            for (JsonNode u : root) {
                n++;
                Set<Role> roles = EnumSet.noneOf(Role.class);
                for (JsonNode r : u.path("roles")) roles.add(role(r.asText(), file, n));
                out.add(new Entry(u.path("email").asText(), u.path("username").asText(""), roles));
            }
            return out;
        }
        int n = 0;
        for (String line : Files.readAllLines(file)) {
            n++;
            if (line.isBlank() || line.startsWith("#") || (n == 1 && line.toLowerCase().startsWith("email"))) continue;
            String[] f = line.split(",", -1);
            Set<Role> roles = EnumSet.noneOf(Role.class);
            if (f.length > 2) for (String r : f[2].split(";")) if (!r.isBlank()) roles.add(role(r, file, n));
            out.add(new Entry(f[0].trim(), f.length > 1 ? f[1].trim() : "", roles));
        }
        return out;
    }

    private static Role role(String text, Path file, int line) {
        try {
            return Role.parse(text);
        } catch (Invalid e) {
            throw new UserError(file + " entry " + line + ": " + e.getMessage());
        }
    }
}
