package dexauth.rbac;

import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RoleDefinitionsTest {
    private static boolean grants(ClusterRole role, String group, String resource, String verb) {
        for (PolicyRule r : role.getRules()) {
            if (r.getApiGroups().contains(group) && (r.getResources().contains(resource) || r.getResources().contains("*"))
                    && (r.getVerbs().contains(verb) || r.getVerbs().contains("*"))) return true;
        }
        return false;
    }

    @Test
    void solutionAdminHasNoPathToEscalate() {
        for (ClusterRole role : List.of(RoleDefinitions.solutionAdmin(), RoleDefinitions.solutionAdminCluster())) {
            for (String res : List.of("roles", "rolebindings", "clusterroles", "clusterrolebindings")) {
                for (String verb : List.of("create", "update", "patch", "bind", "escalate")) {
                    assertFalse(grants(role, "rbac.authorization.k8s.io", res, verb), res + " " + verb);
                }
            }
            assertFalse(grants(role, "", "users", "impersonate"));
            assertFalse(grants(role, "", "serviceaccounts", "impersonate"));
            assertFalse(grants(role, "", "nodes", "get"));
            assertFalse(grants(role, "", "namespaces", "update"));
            assertFalse(grants(role, "apiextensions.k8s.io", "customresourcedefinitions", "create"));
            assertFalse(grants(role, "admissionregistration.k8s.io", "validatingwebhookconfigurations", "create"));
        }
        assertTrue(grants(RoleDefinitions.solutionAdmin(), "apps", "deployments", "create"));
        assertFalse(grants(RoleDefinitions.solutionAdminCluster(), "", "secrets", "get"));
    }

    @Test
    void readOnlyNeverWritesNorReadsSecrets() {
        ClusterRole ro = RoleDefinitions.readOnly();
        assertFalse(grants(ro, "", "secrets", "get"));
        assertFalse(grants(ro, "", "secrets", "list"));
        for (PolicyRule r : ro.getRules()) {
            assertTrue(List.of("get", "list", "watch").containsAll(r.getVerbs()), r.toString());
        }
        assertTrue(grants(ro, "", "pods", "list"));
    }
}
