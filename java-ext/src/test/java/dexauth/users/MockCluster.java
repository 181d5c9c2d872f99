package dexauth.users;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * fabric8's mock API server in CRUD mode (objects stored, listed, patched and deleted as by a
 * real one; expectations set with {@link #server} answer first), plus server-side apply,
 * which the mock does not implement and the code under test uses for every update.
 */
public final class MockCluster implements AutoCloseable {
    final KubernetesMockServer server;
    public final KubernetesClient kube;

    public MockCluster() {
        Map<ServerRequest, Queue<ServerResponse>> expectations = new HashMap<>();
        server = new KubernetesMockServer(new Context(), new MockWebServer(), expectations,
                new ApplyCreates(new KubernetesMixedDispatcher(expectations)), false);
        server.init();
        kube = server.createClient();
    }

    @Override
    public void close() {
        kube.close();
        server.destroy();
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    // The mock server logs every request at INFO: kept quiet unless something is wrong.
    private static final Logger MOCK_LOG = Logger.getLogger("io.fabric8.mockwebserver");

    static {
        MOCK_LOG.setLevel(Level.WARNING);
    }

    /** Server-side apply, which the CRUD mock does not implement (415), as a real API server does it. */
    private static final class ApplyCreates extends Dispatcher {
        private final KubernetesMixedDispatcher crud;

        ApplyCreates(KubernetesMixedDispatcher crud) {
            this.crud = crud;
        }

        @Override
        public MockResponse dispatch(RecordedRequest request) {
            String type = request.getHeader("Content-Type");
            if (!"PATCH".equalsIgnoreCase(request.getMethod()) || type == null || !type.contains("apply-patch")) {
                return crud.dispatch(request);
            }
            // A server-side apply as this code uses it (one manager owns the whole object): a
            // create when the object is absent, else a merge patch of what was applied.
            byte[] body = toJson(request.getBody().getBytes());
            String path = request.getPath().split("\\?", 2)[0];
            Headers json = request.getHeaders().newBuilder().set("Content-Type", "application/merge-patch+json")
                    .build();
            String version = request.getHttpVersion();
            if (crud.dispatch(new RecordedRequest(version, HttpMethod.GET, path, json, new Buffer())).code() == 404) {
                return crud.dispatch(new RecordedRequest(version, HttpMethod.POST,
                        path.substring(0, path.lastIndexOf('/')), json, new Buffer(body)));
            }
            return crud.dispatch(new RecordedRequest(version, HttpMethod.PATCH, path, json, new Buffer(body)));
        }

        private static byte[] toJson(byte[] applied) {
            try {
                return JSON.writeValueAsBytes(YAML.readTree(applied)); // YAML is a superset of JSON
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void shutdown() {
            crud.shutdown();
        }
    }
}
