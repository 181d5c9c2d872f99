package dexauth.pki;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** Parses IP literals without ever doing a DNS lookup. */
final class IpAddresses {
    private static final Pattern V4 = Pattern.compile(
            "((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");
    private static final Pattern V6 = Pattern.compile("[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*");

    private IpAddresses() {}

    static boolean isLiteral(String s) {
        return s != null && (V4.matcher(s).matches() || (V6.matcher(s).matches() && parse6(s) != null));
    }

    /** Canonical byte form; only call with a string that {@link #isLiteral} accepted. */
    static byte[] toBytes(String s) {
        try {
            return InetAddress.getByName(s).getAddress(); // a literal: no lookup happens
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + s + "' is not an IP address", e);
        }
    }

    private static byte[] parse6(String s) {
        try {
            return InetAddress.getByName(s).getAddress();
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
