package dexauth.idp;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What an operator says about one IdP of a kind, before it becomes a Dex connector config.
 * {@link dexauth.errors.Invalid} from {@link #toConfig()} names the setting at fault by its
 * name in the kind's settings (e.g. {@code userBaseDN}); callers say how that setting is entered.
 */
public interface IdpSettings {
    IdpKind kind();

    /** The Dex connector config (never with the secret), or Invalid naming the setting. */
    ObjectNode toConfig();
}
