package dexauth.users;

import dexauth.rbac.Role;

import java.util.Set;
import java.util.TreeSet;

/**
 * What dexauth knows about a local user beside Dex's password entry: roles, whether the
 * password must be changed, who created the user and when. Kept in the cluster.
 */
public record UserRecord(String email, String username, Set<Role> roles, boolean mustChange,
                         String createdBy, String createdAt) {
    public UserRecord {
        roles = Set.copyOf(roles == null ? Set.of() : roles);
    }

    public UserRecord withRoles(Set<Role> newRoles) {
        return new UserRecord(email, username, newRoles, mustChange, createdBy, createdAt);
    }

    public UserRecord withMustChange(boolean value) {
        return new UserRecord(email, username, roles, value, createdBy, createdAt);
    }

    public String rolesText() {
        Set<String> ids = new TreeSet<>();
        roles.forEach(r -> ids.add(r.id()));
        return String.join(",", ids);
    }
}
