package dexauth.idp;

import dexauth.idp.ad.ActiveDirectory;
import dexauth.idp.github.Github;
import dexauth.idp.gitlab.Gitlab;
import dexauth.idp.ldap.Ldap;
import dexauth.idp.oidc.Oidc;

import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/** The registry of IdP kinds: adding a kind is one class and one line here. */
public final class IdpKinds {
    public static final List<IdpKind> ALL = List.of(Ldap.KIND, ActiveDirectory.KIND, Oidc.KIND, Gitlab.KIND, Github.KIND);

    private IdpKinds() {}

    public static Optional<IdpKind> find(String id) {
        return ALL.stream().filter(k -> k.id().equals(id)).findFirst();
    }

    /** "ldap, ad, oidc, gitlab, github", for messages. */
    public static String ids() {
        return ALL.stream().map(IdpKind::id).collect(Collectors.joining(", "));
    }
}
