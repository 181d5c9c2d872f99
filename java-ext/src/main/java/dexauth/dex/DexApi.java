package dexauth.dex;

import dexauth.dex.grpc.DexGrpc;
import dexauth.errors.Unavailable;
import dexauth.dex.grpc.VersionReq;
import dexauth.dex.grpc.VersionResp;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * A connection to Dex's gRPC API. Dex's API has no authentication of its own, so it is
 * only ever reached with mutual TLS: our client certificate, Dex's CA, hostname checked.
 */
public final class DexApi implements AutoCloseable {
    private final ManagedChannel channel;
    private final String target;

    private DexApi(ManagedChannel channel, String target) {
        this.channel = channel;
        this.target = target;
    }

    /** A channel to Dex (it connects on first use); fails when the client credentials cannot be read. */
    public static DexApi connect(String address, Path caFile, Path clientCert, Path clientKey) {
        for (Path p : new Path[]{caFile, clientCert, clientKey}) {
            if (p == null || !Files.isReadable(p)) {
                throw new Unavailable(Unavailable.Dependency.FILESYSTEM, "Dex gRPC credential " + p + " is missing or unreadable", null);
            }
        }
        try {
            // Netty wants PKCS#8 key files; parse the key ourselves so any PEM form works.
            java.security.PrivateKey key = dexauth.pki.Pem.readPrivateKey(Files.readString(clientKey));
            java.util.List<java.security.cert.X509Certificate> chain =
                    dexauth.pki.Pem.readCertificates(Files.readString(clientCert));
            SslContext tls = GrpcSslContexts.forClient().trustManager(caFile.toFile())
                    .keyManager(key, chain.toArray(java.security.cert.X509Certificate[]::new)).build();
            ManagedChannel channel = NettyChannelBuilder.forTarget(address).sslContext(tls).build();
            return new DexApi(channel, address);
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, "Dex gRPC credentials " + clientCert + ", " + clientKey
                    + ": " + e.getMessage(), e);
        }
    }

    /** Blocking stub with a per-call deadline. */
    public DexGrpc.DexBlockingStub stub() {
        return DexGrpc.newBlockingStub(channel).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    public String target() { return target; }

    /** Connector id of Dex's local user store (enablePasswordDB). */
    public static final String LOCAL_CONNECTOR = "local";

    /** Ids of the connectors the running Dex offers ("local" is the local user store). */
    public java.util.SortedSet<String> connectorIds() {
        java.util.SortedSet<String> ids = new java.util.TreeSet<>();
        for (var c : DexGrpc.newBlockingStub(channel).withDeadlineAfter(3, TimeUnit.SECONDS)
                .listConnectors(dexauth.dex.grpc.ListConnectorReq.getDefaultInstance()).getConnectorsList()) {
            ids.add(c.getId());
        }
        return ids;
    }

    /** Waits until Dex answers GetVersion (e.g. right after a deploy); fails with the last error. */
    public VersionResp awaitReady(Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        StatusRuntimeException last = null;
        while (Instant.now().isBefore(deadline)) {
            try {
                return DexGrpc.newBlockingStub(channel).withDeadlineAfter(3, TimeUnit.SECONDS)
                        .getVersion(VersionReq.getDefaultInstance());
            } catch (StatusRuntimeException e) {
                last = e;
                try {
                    Thread.sleep(500);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw new Unavailable(Unavailable.Dependency.DEX, "Dex gRPC API at " + target + " did not answer within "
                + timeout.toSeconds() + "s: " + (last == null ? "interrupted" : describe(last)), last);
    }

    /**
     * Runs a call, retrying while Dex or its storage is momentarily unavailable (e.g. while
     * kube-apiserver restarts to pick up new flags); other errors fail at once.
     */
    public <T> T retrying(java.util.function.Supplier<T> call, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        while (true) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                var code = e.getStatus().getCode();
                boolean transient_ = code == io.grpc.Status.Code.UNAVAILABLE || code == io.grpc.Status.Code.UNKNOWN
                        || code == io.grpc.Status.Code.DEADLINE_EXCEEDED;
                if (!transient_ || Instant.now().isAfter(deadline)) throw e;
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /**
     * Dex over Kubernetes storage writes with optimistic concurrency but passes a refused write
     * (HTTP 409: the object changed since Dex read it) back as UNKNOWN with the server's answer in
     * the text; such a call may simply run again.
     */
    public static boolean isStorageConflict(StatusRuntimeException e) {
        String text = e.getStatus().getDescription();
        return e.getStatus().getCode() == io.grpc.Status.Code.UNKNOWN && text != null
                && text.replace(" ", "").contains("\"code\":409");
    }

    /** The one translation of a failed gRPC call into a domain error. */
    public static Unavailable failure(StatusRuntimeException e) {
        return new Unavailable(Unavailable.Dependency.DEX, "Dex's gRPC API failed: " + describe(e), e);
    }

    public static String describe(StatusRuntimeException e) {
        return switch (e.getStatus().getCode()) {
            case UNAVAILABLE -> "unreachable (" + e.getStatus().getDescription() + ")";
            case DEADLINE_EXCEEDED -> "timed out";
            default -> e.getStatus().getCode() + ": " + e.getStatus().getDescription();
        };
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
