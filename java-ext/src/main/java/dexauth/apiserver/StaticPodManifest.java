package dexauth.apiserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dexauth.errors.Unavailable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Edits the kube-apiserver static-pod manifest: its flags and hostPath mounts. Pure file logic. */
final class StaticPodManifest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            // "6443" must stay a string: kubelet rejects a pod whose env value became a number.
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS));

    private final Path file;
    private final ObjectNode pod;
    private final String original;

    private StaticPodManifest(Path file, ObjectNode pod, String original) {
        this.file = file;
        this.pod = pod;
        this.original = original;
    }

    static StaticPodManifest read(Path file) throws IOException {
        if (!Files.isReadable(file)) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, "kube-apiserver manifest " + file
                    + " not found; is this a control-plane node? (pillar dexauth:kubernetes:apiserver_manifest)", null);
        }
        String text = Files.readString(file);
        JsonNode node = YAML.readTree(text);
        if (!(node instanceof ObjectNode obj)) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, file + " is not a Pod manifest", null);
        }
        return new StaticPodManifest(file, obj, text);
    }

    private ObjectNode container() throws IOException {
        for (JsonNode c : pod.path("spec").path("containers")) {
            if ("kube-apiserver".equals(c.path("name").asText())) return (ObjectNode) c;
        }
        throw new Unavailable(Unavailable.Dependency.FILESYSTEM, file + " has no container named kube-apiserver", null);
    }

    /**
     * Removes flags matching {@code drop} from both command and args, then appends {@code add}
     * where the flags live (args when it holds flags, else command); true if anything changed.
     */
    boolean setFlags(Predicate<String> drop, List<String> add) throws IOException {
        ObjectNode c = container();
        boolean argsHoldFlags = false;
        for (JsonNode n : c.path("args")) argsHoldFlags |= n.asText().startsWith("--");
        String target = argsHoldFlags || !c.has("command") ? "args" : "command";
        boolean changed = false;
        for (String field : new String[]{"command", "args"}) {
            if (!c.has(field) && !field.equals(target)) continue;
            ArrayNode list = c.withArray(field);
            List<String> before = new ArrayList<>();
            list.forEach(n -> before.add(n.asText()));
            List<String> after = new ArrayList<>();
            for (String f : before) if (!drop.test(f)) after.add(f);
            if (field.equals(target)) after.addAll(add);
            if (after.equals(before)) continue;
            list.removeAll();
            after.forEach(list::add);
            changed = true;
        }
        if (c.withArray("args").isEmpty()) c.remove("args");
        return changed;
    }

    /** The values of {@code flag} (e.g. "--service-account-issuer") in command and args, in order. */
    List<String> flagValues(String flag) throws IOException {
        ObjectNode c = container();
        List<String> out = new ArrayList<>();
        for (String field : new String[]{"command", "args"}) {
            for (JsonNode n : c.path(field)) {
                if (n.asText().startsWith(flag + "=")) out.add(n.asText().substring(flag.length() + 1));
            }
        }
        return out;
    }

    /** True when a hostPath volume {@code name} for {@code dir} exists and is mounted at {@code dir}. */
    boolean hasHostPathMount(String name, String dir) throws IOException {
        boolean volume = false;
        for (JsonNode v : pod.path("spec").path("volumes")) {
            volume |= name.equals(v.path("name").asText()) && dir.equals(v.path("hostPath").path("path").asText());
        }
        boolean mount = false;
        for (JsonNode m : container().path("volumeMounts")) {
            mount |= name.equals(m.path("name").asText()) && dir.equals(m.path("mountPath").asText());
        }
        return volume && mount;
    }

    /** Ensures (or, with {@code present=false}, removes) a read-only hostPath directory mount. */
    boolean hostPathMount(String name, String dir, boolean present) throws IOException {
        ObjectNode spec = (ObjectNode) pod.path("spec");
        ObjectNode c = container();
        boolean changed = removeNamed(spec.withArray("volumes"), name) | removeNamed(c.withArray("volumeMounts"), name);
        if (present) {
            spec.withArray("volumes").addObject().put("name", name).putObject("hostPath")
                    .put("path", dir).put("type", "DirectoryOrCreate");
            c.withArray("volumeMounts").addObject().put("name", name).put("mountPath", dir).put("readOnly", true);
            changed = true;
        }
        if (spec.withArray("volumes").isEmpty()) spec.remove("volumes");
        if (c.withArray("volumeMounts").isEmpty()) c.remove("volumeMounts");
        return changed;
    }

    private static boolean removeNamed(ArrayNode array, String name) {
        for (int i = 0; i < array.size(); i++) {
            if (name.equals(array.get(i).path("name").asText())) {
                array.remove(i);
                return true;
            }
        }
        return false;
    }

    /** Rendered manifest; equal to the file's content (semantically) when nothing changed. */
    String render() throws IOException {
        return YAML.writeValueAsString(pod);
    }

    /** Writes only when the pod spec differs from the file, so kubelet restarts only on real change. */
    boolean writeIfChanged() throws IOException {
        JsonNode before = YAML.readTree(original);
        if (before.equals(pod)) return false;
        Path tmp = file.resolveSibling("." + file.getFileName() + ".dexauth.tmp");
        // Written outside the manifests directory's *.yaml glob, then renamed atomically.
        createWithMode(tmp);
        Files.writeString(tmp, render());
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return true;
    }

    /**
     * Creates the temporary file with the manifest's mode (kubeadm writes 0600: it names key files
     * and flags), before any content is in it, so the rewrite never widens who may read it.
     */
    private void createWithMode(Path tmp) throws IOException {
        Files.deleteIfExists(tmp);
        try {
            java.util.Set<java.nio.file.attribute.PosixFilePermission> mode = Files.exists(file)
                    ? Files.getPosixFilePermissions(file)
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");
            Files.createFile(tmp);
            Files.setPosixFilePermissions(tmp, mode);
        } catch (UnsupportedOperationException notPosix) {
            // not a POSIX file system: no mode to keep
        }
    }
}
