package dexauth.loginguard.proxy;

import java.util.List;
import java.util.Map;

/** An HTTP answer as the guard sends it: Dex's, or the guard's own. */
record Answer(int status, Map<String, List<String>> headers, byte[] body) {}
