package dexauth.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.dex.PasswordHasher;
import dexauth.engine.Engine;

import java.io.IOException;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * LAB AND BENCH ONLY: operations the lab (lab/labctl.py) and the benchmarks (bench/) need and a
 * deployment never does. Its own entry point, run as {@code java -cp authctl.jar dexauth.lab.LabTools OP}
 * with a JSON request on stdin and a JSON reply on stdout, like the engine; neither authctl nor
 * Salt's states ever call it.
 */
public final class LabTools {
    static final ObjectMapper JSON = new ObjectMapper();

    private LabTools() {}

    /** The lab-only operations, on the engine's request/reply conventions. */
    public static Engine engine() {
        return new Engine(Map.of(
                // The lab cluster's own PKI (kube-apiserver, etcd, salt-api certificates).
                "pki.ensure", new PkiOperation(),
                // Benchmark reference: bcrypt alone, {"count": n, "cost": c} -> seconds (bench/users.py).
                "bench.bcrypt", (req, dry) -> {
                    int n = req.path("count").asInt(100);
                    int cost = req.path("cost").asInt(12);
                    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                            .getOperatingSystemMXBean();
                    long t0 = System.nanoTime(), cpu0 = os.getProcessCpuTime();
                    IntStream.range(0, n).parallel().forEach(i ->
                            PasswordHasher.hash(PasswordHasher.randomPassword(20), cost));
                    // CPU seconds too: on a busy machine wall time says little about bcrypt's own cost.
                    return JSON.createObjectNode().put("changed", false).put("seconds", (System.nanoTime() - t0) / 1e9)
                            .put("cpuSeconds", (os.getProcessCpuTime() - cpu0) / 1e9);
                }));
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: java -cp authctl.jar dexauth.lab.LabTools OPERATION < request.json (lab only)");
            System.exit(2);
        }
        byte[] input = System.in.readAllBytes();
        JsonNode request = input.length == 0 ? JSON.createObjectNode() : JSON.readTree(input);
        ObjectNode reply = engine().run(args[0], request);
        System.out.println(JSON.writeValueAsString(reply));
        System.exit(reply.path("result").asBoolean() ? 0 : 1);
    }
}
