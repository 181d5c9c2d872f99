package dexauth.idp;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The outcome of checking an IdP step by step (DNS, TCP, TLS, bind, base DN, user, groups).
 * A failed step names its cause and how to fix it; later steps are not attempted. Details and
 * hints name settings as {@code {setting}} (e.g. {@code {userBaseDN}}): the caller says how that
 * setting is entered (a command-line option, a form field).
 */
public final class ProbeReport {
    private static final Pattern SETTING = Pattern.compile("\\{(\\w+)}");

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

    /** Lines for a terminal: one per step, then the notes; {@code setting} names each setting. */
    public List<String> lines(UnaryOperator<String> setting) {
        List<String> out = new ArrayList<>();
        for (Check c : checks) {
            out.add(String.format("%-4s %-9s %s", c.ok() ? "ok" : "FAIL", c.step(), name(c.detail(), setting)));
            if (!c.ok() && c.hint() != null) out.add("               fix: " + name(c.hint(), setting));
        }
        notes.forEach(n -> out.add("     " + n));
        return out;
    }

    /** {@code text} with each {@code {setting}} replaced by what {@code setting} calls it. */
    public static String name(String text, UnaryOperator<String> setting) {
        return SETTING.matcher(text).replaceAll(m -> Matcher.quoteReplacement(setting.apply(m.group(1))));
    }
}
