package dexauth.users;

import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.dex.grpc.CreatePasswordReq;
import dexauth.dex.grpc.CreatePasswordResp;
import dexauth.dex.grpc.DeletePasswordReq;
import dexauth.dex.grpc.DeletePasswordResp;
import dexauth.dex.grpc.DexGrpc;
import dexauth.dex.grpc.ListPasswordReq;
import dexauth.dex.grpc.ListPasswordResp;
import dexauth.dex.grpc.ListRefreshReq;
import dexauth.dex.grpc.ListRefreshResp;
import dexauth.dex.grpc.Password;
import dexauth.dex.grpc.RefreshTokenRef;
import dexauth.dex.grpc.RevokeRefreshReq;
import dexauth.dex.grpc.RevokeRefreshResp;
import dexauth.dex.grpc.UpdatePasswordReq;
import dexauth.dex.grpc.UpdatePasswordResp;
import dexauth.dex.grpc.VerifyPasswordReq;
import dexauth.dex.grpc.VerifyPasswordResp;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Dex's password and refresh-token API, in memory, served in-process over gRPC: the part of
 * Dex that UserService talks to, with Dex's answers (already_exists, not_found, verified).
 * Passwords are keyed by lowercased email as Dex's storage does; refresh tokens by the
 * token's subject (see UserService.localSubject).
 */
final class FakeDex extends DexGrpc.DexImplBase implements AutoCloseable {
    final Map<String, Password> passwords = new ConcurrentHashMap<>();
    final Map<String, List<RefreshTokenRef>> refreshTokens = new ConcurrentHashMap<>();
    /** Writes still to be refused as Dex refuses one that raced another in its Kubernetes storage. */
    final java.util.concurrent.atomic.AtomicInteger conflictsAhead = new java.util.concurrent.atomic.AtomicInteger();
    /** Set: every update fails with this (an unrelated storage failure). */
    volatile String brokenStorage;
    private final Server server;
    private final ManagedChannel channel;
    final DexApi api;

    FakeDex() throws IOException {
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(this).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        api = over(channel);
    }

    /**
     * DexApi only connects over mutual TLS; its private constructor takes any channel. Reflection
     * keeps a test-only entry point out of production code.
     */
    private static DexApi over(ManagedChannel channel) {
        try {
            Constructor<DexApi> c = DexApi.class.getDeclaredConstructor(ManagedChannel.class, String.class);
            c.setAccessible(true);
            return c.newInstance(channel, "in-process");
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("DexApi(ManagedChannel, String) is gone: adapt FakeDex", e);
        }
    }

    Optional<Password> password(String email) {
        return Optional.ofNullable(passwords.get(email.toLowerCase()));
    }

    boolean accepts(String email, String password) {
        return password(email).map(p -> PasswordHasher.matches(password.toCharArray(), p.getHash().toByteArray()))
                .orElse(false);
    }

    /** A refresh token as Dex keeps one after a login of {@code email} through {@code clientId}. */
    void loggedIn(String email, String clientId) {
        String subject = UserService.localSubject(password(email).orElseThrow().getUserId());
        refreshTokens.computeIfAbsent(subject, s -> new ArrayList<>())
                .add(RefreshTokenRef.newBuilder().setId("rt-" + clientId).setClientId(clientId).build());
    }

    List<String> refreshClients(String email) {
        String subject = UserService.localSubject(password(email).orElseThrow().getUserId());
        return refreshTokens.getOrDefault(subject, List.of()).stream().map(RefreshTokenRef::getClientId).toList();
    }

    @Override
    public void createPassword(CreatePasswordReq req, StreamObserver<CreatePasswordResp> out) {
        boolean exists = passwords.putIfAbsent(req.getPassword().getEmail().toLowerCase(), req.getPassword()) != null;
        reply(out, CreatePasswordResp.newBuilder().setAlreadyExists(exists).build());
    }

    @Override
    public void updatePassword(UpdatePasswordReq req, StreamObserver<UpdatePasswordResp> out) {
        if (brokenStorage != null) {
            out.onError(io.grpc.Status.UNKNOWN.withDescription(brokenStorage).asRuntimeException());
            return;
        }
        if (conflictsAhead.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            // Dex's wording for a PUT that lost the race (storage/kubernetes, then api.go)
            out.onError(io.grpc.Status.UNKNOWN.withDescription("update password: put passwords: Conflict: "
                    + "response from server \"{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}\"")
                    .asRuntimeException());
            return;
        }
        Password p = passwords.computeIfPresent(req.getEmail().toLowerCase(),
                (k, old) -> old.toBuilder().setHash(req.getNewHash()).build());
        reply(out, UpdatePasswordResp.newBuilder().setNotFound(p == null).build());
    }

    @Override
    public void deletePassword(DeletePasswordReq req, StreamObserver<DeletePasswordResp> out) {
        boolean gone = passwords.remove(req.getEmail().toLowerCase()) == null;
        reply(out, DeletePasswordResp.newBuilder().setNotFound(gone).build());
    }

    @Override
    public void listPasswords(ListPasswordReq req, StreamObserver<ListPasswordResp> out) {
        reply(out, ListPasswordResp.newBuilder().addAllPasswords(new TreeMap<>(passwords).values()).build());
    }

    @Override
    public void verifyPassword(VerifyPasswordReq req, StreamObserver<VerifyPasswordResp> out) {
        boolean known = passwords.containsKey(req.getEmail().toLowerCase());
        reply(out, VerifyPasswordResp.newBuilder().setNotFound(!known)
                .setVerified(known && accepts(req.getEmail(), req.getPassword())).build());
    }

    @Override
    public void listRefresh(ListRefreshReq req, StreamObserver<ListRefreshResp> out) {
        reply(out, ListRefreshResp.newBuilder().addAllRefreshTokens(refreshTokens.getOrDefault(req.getUserId(),
                List.of())).build());
    }

    @Override
    public void revokeRefresh(RevokeRefreshReq req, StreamObserver<RevokeRefreshResp> out) {
        List<RefreshTokenRef> tokens = refreshTokens.getOrDefault(req.getUserId(), new ArrayList<>());
        boolean removed = tokens.removeIf(t -> t.getClientId().equals(req.getClientId()));
        reply(out, RevokeRefreshResp.newBuilder().setNotFound(!removed).build());
    }

    private static <T> void reply(StreamObserver<T> out, T value) {
        out.onNext(value);
        out.onCompleted();
    }

    @Override
    public void close() {
        channel.shutdownNow();
        server.shutdownNow();
    }
}
