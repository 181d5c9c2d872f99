package dexauth.account;

/**
 * What every console page shows around its content: the product, the logged-in person, the
 * navigation they may use, the CSRF token of their session, and a notice or an error.
 */
public record View(String productName, String base, String csrf, String email, boolean canViewUsers,
                   boolean mustChange, String notice, String error, String section) {
    /** aria-current of a navigation link: "page" for the section shown, else nothing (jte drops the attribute). */
    public String current(String name) {
        return name.equals(section) ? "page" : null;
    }

    public View withError(String message) {
        return new View(productName, base, csrf, email, canViewUsers, mustChange, notice, message, section);
    }

    public View withNotice(String message) {
        return new View(productName, base, csrf, email, canViewUsers, mustChange, message, error, section);
    }
}
