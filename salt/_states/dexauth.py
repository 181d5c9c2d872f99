"""State module: dexauth desired states, each one engine operation.

The Java engine decides what to change and reports it; this module turns its reply
into Salt's return (changes only when something changed, so a re-apply is quiet),
and passes test=True through as a dry run. Nothing secret is ever put in a return.
Each state's ``config`` is the part of the dexauth pillar its operation reads (the SLS
picks it with map.jinja's ``engine_config``); the execution module runs every engine
call of a state run in one JVM.
"""
import logging
import sys

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "dexauth"


def __virtual__():
    if "dexauth.engine" not in __salt__:
        return (False, "the dexauth execution module is not available (sync salt/_modules)")
    return __virtualname__


def _apply(name, operation, config, **extra):
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    request = {"pillar": config}
    request.update(extra)
    test = bool(__opts__.get("test"))
    try:
        reply = __salt__["dexauth.engine"](operation, request, test=test)
    except CommandExecutionError as exc:
        # The engine refused (e.g. a pillar key) or failed: a failed state with the reason.
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret, {}
    changes = reply.get("changes") or {}
    if test and changes:
        ret["result"] = None
        ret["comment"] = "Would change: " + "; ".join("{}: {}".format(k, v) for k, v in changes.items())
        ret["changes"] = changes
    elif changes:
        ret["changes"] = changes
        ret["comment"] = "; ".join("{}: {}".format(k, v) for k, v in changes.items())
    else:
        ret["comment"] = reply.get("comment") or "Already in the desired state"
    for warning in reply.get("warnings") or []:
        # Applied, but something needs the operator (e.g. an IdP whose Secret is missing).
        ret["comment"] += "; WARNING: " + warning
    return ret, reply


def _state(operation, doc):
    def state(name, config, **kwargs):
        extra = {k: v for k, v in kwargs.items() if not k.startswith("__")}
        return _apply(name, operation, config, **extra)[0]
    state.__doc__ = doc
    return state


pillar_valid = _state("config.validate", "Fails, naming the pillar key, when the dexauth pillar is invalid.")
certificates_managed = _state("certs.ensure", "Dex's CA and certificates exist and match pillar.")
secrets_managed = _state("secrets.ensure", "The namespace and Secrets the chart mounts exist.")
chart_deployed = _state("chart.deploy", "The Dex chart is installed with values built from pillar.")
chart_absent = _state("chart.remove", "The Dex release is uninstalled.")
secrets_absent = _state("secrets.remove", "The Secrets made for the chart are deleted (client secrets only with purge).")
user_data_purged = _state("data.purge", "Dex's CRDs (its users), user records and, if dexauth made it, the namespace are deleted.")
roles_managed = _state("roles.ensure", "The role ClusterRoles exist and every binding matches the stored assignments.")
roles_purged = _state("roles.remove", "Every role binding dexauth made and the role ClusterRoles are deleted.")
admin_uis_managed = _state("admin_uis.ensure", "Each admin UI of pillar has its Ingress, Dex client secret, Secret and settings.")
admin_uis_pruned = _state("admin_uis.prune", "The objects of admin UIs no longer in pillar are deleted.")
probe_account_present = _state("probe.ensure", "kube-apiserver's health check has its probe account (password in a Secret).")
probe_account_absent = _state("probe.remove", "The health check's probe account and its Secret are deleted.")
apiserver_configured = _state("apiserver.configure", "kube-apiserver trusts Dex's tokens.")
apiserver_unconfigured = _state("apiserver.unconfigure", "kube-apiserver no longer trusts Dex's tokens.")


def superadmin_present(name, config):
    """
    The super-admin exists in Dex and is bound to cluster-admin.

    Created once with a random password, which is shown once, here, to the operator
    running the orchestration (on its terminal), never in the state's return or a log.
    A re-run finds the user and shows nothing.
    """
    ret, reply = _apply(name, "superadmin.ensure", config)
    password = reply.pop("initialPassword", None)
    if password:
        if _announce(config, reply.get("email"), password):
            ret["comment"] += "; initial password shown once on the terminal that ran the orchestration"
        else:
            ret["comment"] += ("; no terminal to show the initial password on: set a new one as root on the"
                               " bootstrap node with `authctl admin passwd`")
    return ret


def _announce(config, email, password):
    """Writes the credentials block straight to the operator's terminal; False if there is none."""
    issuer = config.get("issuer")
    lines = [
        "",
        "=" * 72,
        " Dex super-admin created: this password is shown ONCE",
        "=" * 72,
        "   issuer   : {}".format(issuer),
        "   email    : {}".format(email),
        "   password : {}".format(password),
        "",
        " Next step: change it now, on the bootstrap node:",
        "   authctl passwd            (or: authctl admin passwd)",
        "=" * 72,
        "",
    ]
    text = "\n".join(lines)
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(text)
            return True
    except OSError:
        pass
    if sys.stderr is not None and sys.stderr.isatty():
        sys.stderr.write(text)
        return True
    return False
