package dexauth.account;

/** One audit Event about a user, as the console lists it (never a secret: Events hold none). */
public record AuditEntry(String time, String actor, String action, String message) {}
