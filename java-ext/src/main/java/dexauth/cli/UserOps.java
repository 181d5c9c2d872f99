package dexauth.cli;

import dexauth.rbac.Role;
import dexauth.users.UserService;

import java.util.List;
import java.util.Set;

/**
 * The user operations of `authctl user` and `authctl role`, wherever they run: through the
 * account service with the logged-in person's token (the default), or directly on the
 * bootstrap node as root ({@code --break-glass}).
 */
interface UserOps extends AutoCloseable {
    void add(String email, String username, Set<Role> roles, char[] password);

    List<UserService.Row> list();

    UserService.Row show(String email);

    void resetPassword(String email, char[] password);

    void delete(String email);

    void grant(String email, Role role, boolean revoke);

    /** Ends the login guard's lockout of an account ({@code idp} null: a local user); false if it was not locked. */
    boolean unlock(String email, String idp);

    void grantGroup(String idp, String group, Role role, boolean revoke);

    @Override
    void close();

    /** The unlock of the direct mode (the admin kubeconfig). */
    interface Unlock {
        boolean unlock(String email, String idp);
    }

    /** Root on the bootstrap node: the use-cases with the admin kubeconfig and Dex's gRPC key. */
    static UserOps direct(UserService users, Unlock unlock, AutoCloseable... resources) {
        return new UserOps() {
            @Override public void add(String email, String username, Set<Role> roles, char[] password) {
                users.add(email, username, roles, password);
            }
            @Override public List<UserService.Row> list() { return users.list(); }
            @Override public UserService.Row show(String email) { return users.show(email); }
            @Override public void resetPassword(String email, char[] password) { users.resetPassword(email, password); }
            @Override public void delete(String email) { users.delete(email); }
            @Override public void grant(String email, Role role, boolean revoke) { users.grant(email, role, revoke); }
            @Override public boolean unlock(String email, String idp) { return unlock.unlock(email, idp); }
            @Override public void grantGroup(String idp, String group, Role role, boolean revoke) {
                users.grantGroup(idp, group, role, revoke);
            }
            @Override public void close() {
                for (AutoCloseable r : resources) {
                    try {
                        r.close();
                    } catch (Exception ignored) {
                        // closing a client: nothing left to do
                    }
                }
            }
        };
    }
}
