package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dexauth.dex.PasswordHasher;
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

    @Override
    public Integer call() throws IOException {
        List<Entry> entries = read(file);
        if (Files.exists(passwordsOut)) throw new UserError(passwordsOut + " exists; refusing to overwrite it");
        StringBuilder secrets = new StringBuilder();
        List<String> created = new ArrayList<>(), skipped = new ArrayList<>(), failed = new ArrayList<>();
        UserCommand.run(session, service -> {
            // bcrypt dominates: hash in parallel (one per core), create sequentially.
            List<char[]> passwords = new ArrayList<>();
            for (int k = 0; k < entries.size(); k++) passwords.add(PasswordHasher.randomPassword(20));
            List<byte[]> hashes = passwords.parallelStream()
                    .map(pw -> PasswordHasher.hash(pw, service.bcryptCost())).toList();
            Set<String> inDex = service.dexEmails();
            for (int i = 0; i < entries.size(); i++) {
                Entry e = entries.get(i);
                char[] pw = passwords.get(i);
                try {
                    service.add(e.email(), e.username(), e.roles(), hashes.get(i), inDex);
                    created.add(e.email());
                    secrets.append(e.email()).append(',').append(pw).append('\n');
                } catch (Conflict exists) {
                    skipped.add(e.email() + " (exists)");
                } catch (Forbidden | LoginRequired | Unavailable stop) {
                    throw stop; // no right, or the cluster or Dex failed: stop at once
                } catch (DomainException r) {
                    failed.add(e.email() + ": " + r.getMessage());
                } finally {
                    PasswordHasher.wipe(pw);
                }
                progress(i + 1, entries.size());
            }
            return null;
        });
        System.err.println();
        if (!created.isEmpty()) Pem.writePrivate(passwordsOut, secrets.toString());
        System.out.printf("created %d, skipped %d, failed %d%n", created.size(), skipped.size(), failed.size());
        skipped.forEach(s -> System.out.println("  skipped " + s));
        failed.forEach(f -> System.out.println("  FAILED  " + f));
        if (!created.isEmpty()) System.out.println("one-time passwords: " + passwordsOut + " (mode 0600)");
        // Some entries were refused (each is listed above); the others were created.
        return failed.isEmpty() ? ExitCode.OK.code : ExitCode.INVALID.code;
    }

    private static void progress(int done, int total) {
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
