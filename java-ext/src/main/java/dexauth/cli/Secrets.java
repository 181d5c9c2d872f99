package dexauth.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/** Reads secrets from a hidden prompt or from stdin, never from arguments. */
final class Secrets {
    private Secrets() {}

    /** Reads one line from stdin (for --password-stdin), without the line break. */
    static char[] fromStdin(String what) {
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null || line.isEmpty()) throw new UserError(what + ": nothing was read from stdin");
            return line.toCharArray();
        } catch (IOException e) {
            throw new UserError(what + ": cannot read stdin: " + e.getMessage());
        }
    }

    /** Hidden prompt; fails clearly when there is no terminal. */
    static char[] prompt(String label) {
        Console console = System.console();
        if (console == null) {
            throw new UserError("no terminal to prompt for " + label + "; pipe it in with --password-stdin");
        }
        char[] value = console.readPassword("%s: ", label);
        if (value == null || value.length == 0) throw new UserError(label + " is empty");
        return value;
    }
}
