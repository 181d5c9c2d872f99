package dexauth.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Reads passwords: typed twice at a hidden prompt, or one per line on stdin. Never echoed. */
final class Passwords {
    private static BufferedReader stdin;

    private Passwords() {}

    /** Next line of stdin (several passwords may be piped, one per line). */
    static char[] line(String what) {
        try {
            if (stdin == null) stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String l = stdin.readLine();
            if (l == null || l.isEmpty()) throw new UserError(what + ": nothing was read from stdin");
            return l.toCharArray();
        } catch (IOException e) {
            throw new UserError(what + ": cannot read stdin: " + e.getMessage());
        }
    }

    /** A new password: from stdin, or typed twice at a hidden prompt (must match). */
    static char[] newPassword(boolean fromStdin, String label) {
        if (fromStdin) return line(label);
        Console console = System.console();
        if (console == null) throw new UserError("no terminal to prompt for " + label + "; use --password-stdin");
        char[] first = console.readPassword("%s: ", label);
        char[] second = console.readPassword("%s (again): ", label);
        if (first == null || second == null || !Arrays.equals(first, second)) {
            throw new UserError("the two passwords differ; nothing was changed");
        }
        Arrays.fill(second, '\0');
        return first;
    }

    static char[] existing(boolean fromStdin, String label) {
        return existing(fromStdin, label, "--password-stdin");
    }

    /** A secret that exists already (typed once); {@code stdinOption} is named when there is no terminal. */
    static char[] existing(boolean fromStdin, String label, String stdinOption) {
        return fromStdin ? line(label) : prompt(label, stdinOption);
    }

    /** Hidden prompt; fails clearly when there is no terminal. */
    static char[] prompt(String label) {
        return prompt(label, "--password-stdin");
    }

    static char[] prompt(String label, String stdinOption) {
        Console console = System.console();
        if (console == null) {
            throw new UserError("no terminal to prompt for " + label + "; pipe it in with " + stdinOption);
        }
        char[] value = console.readPassword("%s: ", label);
        if (value == null || value.length == 0) throw new UserError(label + " is empty");
        return value;
    }
}
