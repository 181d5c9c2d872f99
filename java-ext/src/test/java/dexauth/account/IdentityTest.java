package dexauth.account;

import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet;
import org.junit.jupiter.api.Test;

import java.util.Date;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IdentityTest {
    private static IDTokenClaimsSet claims(Map<String, Object> extra) throws Exception {
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().issuer("https://dex.example.com").subject("s")
                .audience("k").expirationTime(new Date(System.currentTimeMillis() + 60_000)).issueTime(new Date());
        extra.forEach(b::claim);
        return new IDTokenClaimsSet(b.build());
    }

    @Test
    void groupsCarryTheirIdpAsKubernetesNamesThem() throws Exception {
        assertEquals(List.of("corp:ops", "corp:cn=a,ou=g"), Identity.groupsOf(claims(Map.of(
                "groups", List.of("ops", "cn=a,ou=g"), "federated_claims", Map.of("connector_id", "corp")))));
        // without the connector's name a group could be anyone's: none
        assertEquals(List.of(), Identity.groupsOf(claims(Map.of("groups", List.of("ops")))));
        assertEquals(List.of(), Identity.groupsOf(claims(Map.of("federated_claims", Map.of("connector_id", "local")))));
    }
}
