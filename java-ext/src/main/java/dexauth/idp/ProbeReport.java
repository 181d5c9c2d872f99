package dexauth.idp;

import java.util.ArrayList;
import java.util.List;

/**
 * The outcome of checking an IdP step by step (DNS, TCP, TLS, bind, base DN, user, groups).
 * A failed step names its cause and how to fix it; later steps are not attempted.
 */
public final class ProbeReport {
    /** One step: {@code hint} says how to fix a failure. */
    public record Check(String step, boolean ok, String detail, String hint) {}

    private final List<Check> checks = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    public void pass(String step, String detail) { checks.add(new Check(step, true, detail, null)); }

    public void fail(String step, String detail, String hint) { checks.add(new Check(step, false, detail, hint)); }

    /** Information that is not a check (the Kubernetes identity a user maps to). */
    public void note(String line) { notes.add(line); }

    public List<Check> checks() { return List.copyOf(checks); }

    public List<String> notes() { return List.copyOf(notes); }

    public boolean ok() { return checks.stream().allMatch(Check::ok); }

    /** The first failed step, or null. */
    public Check failure() { return checks.stream().filter(c -> !c.ok()).findFirst().orElse(null); }

    /** Lines for a terminal: one per step, then the notes. */
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        for (Check c : checks) {
            out.add(String.format("%-4s %-9s %s", c.ok() ? "ok" : "FAIL", c.step(), c.detail()));
            if (!c.ok() && c.hint() != null) out.add("               fix: " + c.hint());
        }
        notes.forEach(n -> out.add("     " + n));
        return out;
    }
}
