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
  private static final Pattern LITERAL = Pattern.compile("(new Invalid\\()?\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(\\w+)}");

  @Test
  void settingsNamedByTheIdpPackageAreOptions() throws IOException {
    Set<String> named = new TreeSet<>();
    try (Stream<Path> files = Files.walk(Path.of("src/main/java/dexauth/idp"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Matcher literal = LITERAL.matcher(Files.readString(f));
        while (literal.find()) {
          if (literal.group(1) != null) named.add(literal.group(2)); // the field of an Invalid
          Matcher m = PLACEHOLDER.matcher(literal.group(2));
          while (m.find()) named.add(m.group(1));
        }
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
