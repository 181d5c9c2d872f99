package dexauth.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every setting the idp package names (in an Invalid or a check hint) is shown as an `idp add` option. */
class IdpCommandTest {
  private static final Pattern NAMED = Pattern.compile("\\{(\\w+)}|new Invalid\\(\"(\\w+)\"");

  @Test
  void settingsNamedByTheIdpPackageAreOptions() throws IOException {
    Set<String> named = new TreeSet<>();
    try (Stream<Path> files = Files.walk(Path.of("src/main/java/dexauth/idp"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Matcher m = NAMED.matcher(Files.readString(f));
        while (m.find()) named.add(m.group(1) != null ? m.group(1) : m.group(2));
      }
    }
    assertTrue(named.containsAll(Set.of("ca", "userBaseDN", "groupMatchers", "domain", "host")), named.toString());
    for (String setting : named) {
      assertTrue(IdpCommand.option(setting).startsWith("--"), setting + " has no option");
    }
    assertEquals("--login-attribute", IdpCommand.option("usernameAttr"));
    assertEquals("--insecure-no-tls", IdpCommand.option("noTls"));
  }
}
