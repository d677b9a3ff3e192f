#!/usr/bin/env python3
"""Generate benign "operational prose" training rows for the injection filter.

Error events that reach the coding agent often carry text written *for people*:
mail bounces with advice to the sender, status-page updates, support macros,
error pages and API error bodies, notification e-mails embedded in logs and
webhooks, CLI and installer help, chat between colleagues in an incident
channel, LLM applications' own logs (which quote their prompt templates as
data), UI string bundles, legal and retention notices, crash dialogs. Such text
is full of imperatives and "you", and none of it is addressed to an AI reader.
This generator writes such rows, label 0, half of them inside realistic
carriers (JSON log lines, webhooks, syslog, e-mail, Sentry-like events, CI
logs, ticket systems, Slack / Teams exports).

Standard library only. Deterministic: one random.Random(seed), lists and
insertion-ordered dicts only, no clock, no hash-order dependence; the output is
byte-identical across runs and PYTHONHASHSEEDs.

Usage: python3 tools/gen_opsprose.py [--out PATH] [--seed 9313] [--n 2000]
"""

import argparse
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
import random

SEED = 9313
R = random.Random(SEED)


def pick(seq):
    return seq[R.randrange(len(seq))]


def chance(p):
    return R.random() < p


def hexid(n, upper=False):
    s = "".join(pick("0123456789abcdef") for _ in range(n))
    return s.upper() if upper else s


def digits(n):
    return "".join(pick("0123456789") for _ in range(n))


def alnum(n):
    return "".join(pick("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(n))


# --------------------------------------------------------------------------
# slot fillers
# --------------------------------------------------------------------------

FIRST = ["Ana", "Bram", "Chen", "Dmitri", "Elif", "Farah", "Gustavo", "Hana", "Ines", "Jonas",
         "Kofi", "Lena", "Mateo", "Noor", "Oskar", "Priya", "Rosa", "Sven", "Tomasz", "Uma",
         "Viktor", "Wen", "Yusuf", "Zoe", "Marta", "Aiko", "Jae", "Lucia", "Pieter", "Amara",
         "Bilal", "Carmen", "Dara", "Emil", "Femi", "Greta", "Hugo", "Ivana", "Joao", "Kenji",
         "Leila", "Milan", "Nadia", "Olu", "Pablo", "Rania", "Sofia", "Theo"]
LAST = ["Moreau", "Okafor", "Lindqvist", "Tanaka", "Novak", "Schmidt", "Rossi", "Haddad",
        "Kowalski", "Silva", "Park", "Yilmaz", "Jansen", "Ivanova", "Garcia", "Chen", "Murphy",
        "Dubois", "Nakamura", "Svoboda", "Costa", "Fischer", "Ahmed", "Berg", "Mensah", "Petrov",
        "Oliveira", "Kim", "Brennan", "Horvat"]
MAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.net", "inbox.example.org",
                "customers.test", "corp.example.com", "globex.test", "initech.test", "partner.example.org"]
OUR_DOMAINS = ["example.com", "shop.example.net", "app.example.org", "billing.example.com",
               "accounts.example.net", "acme.test", "status.example.org", "help.example.com"]
PRODUCTS = ["Ledgerbird", "Parcelly", "Tidepool", "Quillstack", "Harborline", "Brightdesk",
            "Nimbus Notes", "Lumenpay", "Fieldkit", "Orbitask", "Cobalt CRM", "Waypost"]
APPS = ["PhotoNest", "Tandem Notes", "FitLoop", "Pocketbook", "Wayfarer Maps", "Chirpy",
        "Sprout Budget", "Doodle Pad", "Podwave", "Lingo Buddy"]
GAMES = ["Starfall Tactics", "Hollow Reef", "Kart Rumble 2", "Ember Keep", "Skyward Farm",
         "Pixel Dungeon Party", "Iron Harbor", "Moonlit Racers"]
SHOPS = ["Fernwood Outdoor", "Maple & Loom", "Nordlicht Home", "Casa Brava", "Kiko Ceramics",
         "Bitwise Books", "Harbour Tea Co.", "Velo Atelier"]
SERVICES = ["checkout-api", "billing-worker", "auth-gateway", "search-indexer", "notifications",
            "orders-svc", "media-resizer", "ledger-sync", "webhook-dispatcher", "export-worker"]
COMPONENTS = ["API", "dashboard", "webhooks", "card payments", "file uploads", "search",
              "single sign-on", "e-mail notifications", "mobile app sync", "reporting", "CI runners",
              "data exports"]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1", "ap-northeast-1",
           "sa-east-1", "ca-central-1"]
TOOLS = ["shipctl", "tidectl", "lumen", "quill", "harbor", "nimbus", "fieldkit", "orbit", "pactl", "grove"]
ENVVARS = ["SHIPCTL_TOKEN", "DATABASE_URL", "TIDE_API_KEY", "AWS_REGION", "QUILL_HOME",
           "HARBOR_PROFILE", "KUBECONFIG", "NIMBUS_ENDPOINT", "JAVA_HOME", "GROVE_CONFIG"]
TEAMS = ["Platform", "Payments", "Growth", "Data", "Mobile", "Design", "Support Ops", "Infra"]
PROJECTS = ["storefront", "payments-core", "mobile-backend", "data-platform", "helpdesk-bot",
            "internal-tools", "marketing-site"]
PLANS = ["Starter", "Pro", "Team", "Business", "Plus"]
DEVICES = ["Chrome on Windows", "Safari on iPhone", "Firefox on Ubuntu", "Edge on Windows 11",
           "the Android app (Pixel 8)", "Safari on macOS", "the iOS app (iPad)"]
CITIES = ["Lisbon, Portugal", "Lyon, France", "Toronto, Canada", "Osaka, Japan", "Krakow, Poland",
          "Austin, United States", "Leeds, United Kingdom", "Porto Alegre, Brazil", "Izmir, Turkey"]
PKGMGRS = ["brew", "npm -g", "pipx", "apt", "scoop", "cargo install"]
ENVS = ["staging", "preview-42", "qa", "sandbox", "demo-eu"]
LISTS = ["announce", "dev-discuss", "users", "ops-team", "board", "all-staff"]
RBLS = ["bl.example.org", "dnsbl.example.net", "rbl.example.com"]
WEBSERVERS = ["Apache/2.4.62 (Debian)", "Apache/2.4.58 (Ubuntu)", "nginx/1.26.2", "nginx", "Microsoft-IIS/10.0"]
VENDORS = ["Mailwise Ltd", "Postbird GmbH", "CloudKeep SAS", "Sendora BV", "Archivo SL"]
MODELS = ["gpt-4o-mini", "gpt-4.1", "claude-3-5-haiku", "claude-sonnet-4", "mistral-small",
          "llama-3.1-8b-instruct", "gemini-1.5-flash", "qwen2.5-7b-instruct"]
CHANNELS = ["inc-2291-checkout", "incident-room", "ops", "payments-oncall", "sre", "deploys", "random"]

BASE = datetime(2025, 1, 6, 8, 0, 0, tzinfo=timezone.utc)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
MON3 = [m[:3] for m in MONTHS]
DAY3 = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _dt(m):
    if "_dt" not in m:
        m["_dt"] = BASE + timedelta(seconds=R.randint(0, 330 * 86400), milliseconds=R.randint(0, 999))
    return m["_dt"]


def _later(m):
    if "_later" not in m:
        m["_later"] = _dt(m) + timedelta(days=R.randint(2, 21))
    return m["_later"]


def fmt_rfc2822(d):
    return "%s, %d %s %d %02d:%02d:%02d +0000" % (DAY3[d.weekday()], d.day, MON3[d.month - 1], d.year,
                                                  d.hour, d.minute, d.second)


def fmt_iso(d, ms=True):
    if ms:
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (d.year, d.month, d.day, d.hour, d.minute,
                                                        d.second, d.microsecond // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (d.year, d.month, d.day, d.hour, d.minute, d.second)


def _email(m):
    return "%s.%s@%s" % (pick(FIRST).lower(), pick(LAST).lower(), pick(MAIL_DOMAINS))


def _t1(m):
    d = _dt(m)
    return "%02d:%02d" % (d.hour, d.minute)


def _t2(m):
    d = _dt(m) + timedelta(minutes=R.randint(14, 170))
    return "%02d:%02d" % (d.hour, d.minute)


def _amount(m):
    cur = pick(["$", "€", "£"])
    v = pick(["9.00", "12.50", "19.99", "29.00", "49.00", "79.00", "119.00", "240.00", "15.75"])
    return cur + v


def _ver(m):
    return "%d.%d.%d" % (R.randint(1, 4), R.randint(0, 19), R.randint(0, 12))


def _host(m):
    return pick(["worker-%d.prod.internal" % R.randint(1, 12), "api-%d.eu.internal" % R.randint(1, 9),
                 "db-replica-%d.internal" % R.randint(1, 4), "10.%d.%d.%d" % (R.randint(0, 40), R.randint(0, 255), R.randint(2, 250)),
                 "queue-%d.internal" % R.randint(1, 5), "ip-10-0-%d-%d.internal" % (R.randint(0, 9), R.randint(2, 250))])


def _ip(m):
    return pick(["192.0.2.%d", "198.51.100.%d", "203.0.113.%d"]) % R.randint(2, 250)


SLOTS = {
    "name": lambda m: pick(FIRST),
    "cname": lambda m: pick(FIRST),
    "agent": lambda m: pick(FIRST),
    "fullname": lambda m: "%s %s" % (pick(FIRST), pick(LAST)),
    "email": _email,
    "rcpt": _email,
    "sender": _email,
    "domain": lambda m: pick(OUR_DOMAINS),
    "rdomain": lambda m: pick(MAIL_DOMAINS),
    "mx": lambda m: pick(["mx1.example.com", "mail.example.net", "smtp-out-3.example.org", "relay.corp.example.com",
                          "mta2.example.com", "mailgw.acme.test"]),
    "rmx": lambda m: pick(["mx.example.org", "mx2.mail.example.net", "inbound.globex.test", "mx.initech.test",
                           "mail.partner.example.org", "mx01.customers.test"]),
    "exch": lambda m: pick(["EX-MBX-0%d.corp.example.org", "AM%dPR04MB%d.eurprd04.example.net", "MAIL-HUB-%d.example.com"]).replace("%d", str(R.randint(1, 9)), 1).replace("%d", digits(4)),
    "helo": lambda m: pick(["mail.example.net", "localhost", "host-%s.example.org" % digits(3), "[%s]" % _ip(m)]),
    "host": _host,
    "node": lambda m: "ip-10-0-%d-%d.internal" % (R.randint(0, 9), R.randint(2, 250)),
    "ip": _ip,
    "qid": lambda m: hexid(R.randint(10, 12), upper=True),
    "msgid": lambda m: "<%s.%s@%s>" % (digits(10), hexid(8), pick(OUR_DOMAINS)),
    "date": lambda m: fmt_rfc2822(_dt(m)),
    "ts": lambda m: fmt_iso(_dt(m)),
    "date_short": lambda m: "%d %s %d" % (_later(m).day, MONTHS[_later(m).month - 1], _later(m).year),
    "date_iso": lambda m: "%04d-%02d-%02d" % (_later(m).year, _later(m).month, _later(m).day),
    "date_dmy": lambda m: "%02d.%02d.%04d" % (_later(m).day, _later(m).month, _later(m).year),
    "weekday": lambda m: DAYS[_later(m).weekday()],
    "time": lambda m: "%02d:%02d" % (R.randint(0, 23), R.choice([0, 5, 10, 15, 20, 30, 40, 45, 50])),
    "t1": _t1,
    "t2": _t2,
    "n": lambda m: str(R.randint(2, 30)),
    "secs": lambda m: str(pick([30, 60, 90, 120, 300, 600])),
    "mins": lambda m: str(pick([5, 10, 15, 20, 30, 45, 60])),
    "hours": lambda m: str(pick([4, 6, 12, 24, 48])),
    "days": lambda m: str(pick([2, 3, 5, 7])),
    "pct": lambda m: str(R.randint(2, 38)),
    "order_id": lambda m: "ORD-" + digits(8),
    "ticket_id": lambda m: "#" + digits(6),
    "ticket_id2": lambda m: "#" + digits(6),
    "invoice_id": lambda m: "INV-%d-%s" % (R.randint(2024, 2025), digits(5)),
    "incident_id": lambda m: "INC-" + digits(4),
    "maint_id": lambda m: "MNT-" + digits(4),
    "err_id": lambda m: hexid(8) + "-" + hexid(4),
    "ref": lambda m: alnum(10).upper(),
    "req_id": lambda m: "req_" + alnum(20),
    "conv_id": lambda m: "conv_" + hexid(16),
    "export_id": lambda m: "exp_" + hexid(12),
    "dsr_id": lambda m: "DSR-%d-%s" % (R.randint(2024, 2025), digits(5)),
    "hold_id": lambda m: "LH-" + digits(5),
    "subject_id": lambda m: "usr_" + hexid(10),
    "uid": lambda m: "u_" + hexid(12),
    "token": lambda m: alnum(32),
    "code6": lambda m: digits(6),
    "devcode": lambda m: "%s-%s" % (alnum(4).upper(), alnum(4).upper()),
    "last4": lambda m: digits(4),
    "tracking": lambda m: pick(["1Z", "JD", "LX", "CP"]) + digits(12),
    "amount": _amount,
    "eur": lambda m: "%d,%02d €" % (R.randint(5, 250), pick([0, 0, 50, 99, 90])),
    "plan": lambda m: pick(PLANS),
    "product": lambda m: pick(PRODUCTS),
    "app": lambda m: pick(APPS),
    "game": lambda m: pick(GAMES),
    "shop": lambda m: pick(SHOPS),
    "svc": lambda m: pick(SERVICES),
    "component": lambda m: pick(COMPONENTS),
    "region": lambda m: pick(REGIONS),
    "region2": lambda m: pick(REGIONS),
    "tool": lambda m: pick(TOOLS),
    "toolenv": lambda m: m.get("tool", pick(TOOLS)).upper(),
    "envvar": lambda m: pick(ENVVARS),
    "ver1": _ver,
    "ver2": _ver,
    "pkgmgr": lambda m: pick(PKGMGRS),
    "env": lambda m: pick(ENVS),
    "team": lambda m: pick(TEAMS),
    "project": lambda m: pick(PROJECTS),
    "device": lambda m: pick(DEVICES),
    "city": lambda m: pick(CITIES),
    "list": lambda m: pick(LISTS),
    "rbl": lambda m: pick(RBLS),
    "server": lambda m: pick(WEBSERVERS),
    "vendor": lambda m: pick(VENDORS),
    "model": lambda m: pick(MODELS),
    "chan": lambda m: pick(CHANNELS),
    "pr": lambda m: str(R.randint(1200, 9800)),
    "year": lambda m: str(pick([2024, 2025])),
    "q": lambda m: str(R.randint(1, 4)),
    "keyname": lambda m: pick(["ci-deploy", "zapier-sync", "analytics-export", "mobile-prod", "backup-job"]),
    "tok_in": lambda m: str(R.randint(180, 7900)),
    "tok_out": lambda m: str(R.randint(12, 900)),
    "lat": lambda m: str(R.randint(180, 9400)),
    "hex": lambda m: hexid(12),
    "pid": lambda m: str(R.randint(300, 65000)),
    "port": lambda m: str(pick([8080, 8443, 3000, 5432, 6379, 9000])),
}

SLOT_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
UNKNOWN = {}  # placeholder name -> count (reported, so typos show up)


def fill(t, memo):
    def rep(mo):
        k = mo.group(1)
        base = k
        if k not in SLOTS:
            b = k.rstrip("0123456789")
            if b in SLOTS and b != k:
                base = b
            else:
                UNKNOWN[k] = UNKNOWN.get(k, 0) + 1
                return mo.group(0)
        if k not in memo:
            memo[k] = SLOTS[base](memo)
        return memo[k]
    return SLOT_RE.sub(rep, t)


def slot(name, memo):
    return fill("{" + name + "}", memo)


# --------------------------------------------------------------------------
# English templates, per family
# --------------------------------------------------------------------------

BOUNCE = [
    # Postfix, permanent
    """This is the mail system at host {mx}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{rcpt}>: host {rmx}[{ip}] said: 550 5.1.1 <{rcpt}>:
    Recipient address rejected: User unknown in virtual mailbox table (in reply
    to RCPT TO command)""",
    # Postfix, delay warning
    """This is the mail system at host {mx}.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than {hours} hour(s).
It will be retried until it is {days} day(s) old.

For further assistance, please send mail to postmaster.

                   The mail system

<{rcpt}>: connect to {rmx}[{ip}]:25: Connection timed out""",
    # Exim, permanent
    """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {rcpt}
    host {rmx} [{ip}]
    SMTP error from remote mail server after RCPT TO:<{rcpt}>:
    552 5.2.2 Mailbox full: the recipient's mailbox is over its storage limit""",
    # Exim, delay
    """This message was created automatically by mail delivery software.

A message that you sent has not yet been delivered to one or more of its
recipients after more than {hours} hours on the queue on {mx}.

The message identifier is:     {qid}
The subject of the message is: {subject_line}
The date of the message is:    {date}

The address to which the message has not yet been delivered is:

  {rcpt}
    host {rmx} [{ip}]
    Delay reason: SMTP error from remote mail server after end of data:
    451 4.7.1 Please try again later

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.""",
    # Exchange on-premises
    """Delivery has failed to these recipients or groups:

{rcpt}
The e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to resend the message. If the problem continues, please contact your helpdesk.

Diagnostic information for administrators:

Generating server: {exch}

{rcpt}
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'

Original message headers:

Received: from {exch} ({ip}) by {exch} with Microsoft SMTP Server (TLS) id 15.2.1544.4; {date}
Message-ID: {msgid}""",
    # Exchange Online, user-facing
    """Your message to {rcpt} couldn't be delivered.
The recipient wasn't found at {rdomain}.

Action Required                                   Recipient
Unknown To address

How to Fix It
The address may be misspelled or may not exist. Try one or more of the following:
  - Retype the recipient's address, then resend the message. If you're using Outlook,
    open this report and click Send Again.
  - Remove the recipient's entry from your auto-complete list, then type the address again.
  - If you continue to get this error, contact the recipient by some other means (by phone,
    for example) to confirm the address. They may have left the company.

More Info for Email Admins
Status code: 550 5.1.10
This error occurs because the recipient's address is unknown to the receiving mail system.""",
    # Exchange, message too large
    """Delivery has failed to these recipients or groups:

{rcpt}
Your message is too big for the recipient's mailbox. It's 3{n} MB and the limit is 25 MB. Try sending the attachments in smaller pieces, or upload them to a shared folder and send a link instead.

Diagnostic information for administrators:
Generating server: {exch}
Remote Server returned '552 5.3.4 Message size exceeds fixed maximum message size'""",
    # Exchange, group restriction
    """Your message couldn't be delivered to the group {list}@{rdomain} because you don't have permission to send to it.

Ask the owner of the group to add you to the list of allowed senders, then try again. If you think you should be able to send to this group, contact your IT department.

Remote Server returned '550 5.7.1 RESOLVER.RST.AuthRequired; authentication required'""",
    # Gmail, address not found
    """Address not found

Your message wasn't delivered to {rcpt} because the address couldn't be found, or is unable to receive mail.

LEARN MORE: https://help.example.com/mail/bounce-550

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. {hex} - gsmtp""",
    # Gmail, blocked unauthenticated
    """Message blocked

Your message to {rcpt} has been blocked. See technical details below for more information.

The response was:
550 5.7.26 Unauthenticated email from {rdomain} is not accepted due to domain's DMARC policy. Please contact the administrator of the {rdomain} domain if this was a legitimate mail. To learn about the DMARC initiative, go to https://help.example.com/dmarc""",
    # Gmail, temporary
    """Message not delivered

There was a temporary problem delivering your message to {rcpt}. Gmail will retry for {hours} more hours. You'll be notified if the delivery fails permanently.

The response was:
421 4.7.0 Try again later, closing connection. (Too many concurrent connections from {ip})""",
    # generic quota
    """Delivery to the following recipient failed permanently:

     {rcpt}

Technical details of permanent failure:
The recipient's mailbox is full and can't accept messages now. Please try resending your message at a later time, or contact the recipient directly and ask them to free up space.

----- Original message -----
Date: {date}
Subject: {subject_line}""",
    # out of office
    """Automatic reply: {subject_line}

Thank you for your message. I am out of the office until {date_short} with limited access to e-mail.

For anything urgent, please contact {name2} at {email2}. Otherwise I will reply when I am back. Please note that this mailbox is not monitored during my absence, so do not resend your message.

Kind regards,
{fullname}""",
    # list moderation
    """Your mail to '{list}' with the subject

    {subject_line}

Is being held until the list moderator can review it for approval.

The reason it is being held:

    Post by non-member to a members-only list

Either the message will get posted to the list, or you will receive
notification of the moderator's decision. If you would like to cancel
this posting, please visit the following URL:

    https://lists.example.org/confirm/{list}/{token}""",
    # Postfix reject log with SPF
    """NOQUEUE: reject: RCPT from unknown[{ip}]: 550 5.7.1 <{rcpt}>: Recipient address rejected: Message rejected due to SPF policy for {rdomain}. Please ask your mail administrator to check the SPF record of your domain; from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{helo}>""",
    # greylisting
    """{qid}: to=<{rcpt}>, relay={rmx}[{ip}]:25, delay={n}, delays=0.1/0/0.3/0.2, dsn=4.7.1, status=deferred (host {rmx}[{ip}] said: 451 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, please try again in {secs} seconds (in reply to RCPT TO command))""",
    # blocklist
    """{qid}: to=<{rcpt}>, relay={rmx}[{ip}]:25, dsn=5.7.1, status=bounced (host {rmx}[{ip}] said: 554 5.7.1 Service unavailable; Client host [{ip2}] blocked using {rbl}. If you believe this is an error, ask your mail administrator to request delisting at https://{rbl}/lookup (in reply to RCPT TO command))""",
    # rate limit
    """421 4.7.0 [{ip}] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users, mail sent from your IP address has been temporarily rate limited. Please reduce your sending rate and try again later. {hex}""",
    # ESP webhook description
    """Bounce type: Permanent / General. The recipient's mail server permanently rejected the message to {rcpt}. Remove this address from your mailing list: continuing to send to addresses that hard-bounce will hurt your sender reputation. If the recipient asks you to add them again, confirm the address with them first.""",
    # spam complaint
    """Complaint received for message {msgid} sent to {rcpt} (feedback type: abuse). The recipient marked your message as spam. We have suppressed this address for your account. Please make sure you only send to people who have opted in, and include a working unsubscribe link in every marketing message.""",
    # TLS required
    """<{rcpt}>: TLS is required, but was not offered by host {rmx}[{ip}]

Your message could not be delivered because the recipient's domain requires encrypted delivery. No action is needed if you were not expecting encryption; otherwise please ask the recipient's mail administrator to enable STARTTLS.""",
]

BOUNCE_MACHINE = [
    """--- Delivery report ---
Reporting-MTA: dns; {mx}
X-Postfix-Queue-ID: {qid}
X-Postfix-Sender: rfc822; {sender}
Arrival-Date: {date}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: failed
Status: 5.1.1
Remote-MTA: dns; {rmx}
Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown""",
    """Reporting-MTA: dns; {mx}
Action: delayed
Final-Recipient: rfc822;{rcpt}
Status: 4.4.1
Will-Retry-Until: {date}
Diagnostic-Code: smtp; 421 4.4.1 connection timed out""",
]

SUBJECT_LINES = ["Invoice {invoice_id}", "Re: Q3 figures", "Meeting notes - {weekday}", "Your order {order_id}",
                 "Contract renewal", "Re: site visit next week", "Updated price list", "Welcome to {product}!",
                 "Fwd: travel booking", "Re: question about the API"]

ORIG_BODIES = [
    "Hi {name},\n\nattached is the invoice for last month. Could you confirm you received it?\n\nThanks,\n{name2}",
    "Hello {name},\n\nplease find the updated price list attached. Let me know if anything looks off before Friday.\n\nBest regards,\n{fullname}",
    "Hi all,\n\nreminder that the office is closed on {weekday}. Please submit your timesheets by Thursday.\n\n{name2}",
    "Hey {name}, can you send me the slides from yesterday? I'd like to reuse two of them. Cheers, {name2}",
]

STATUS_TITLES = ["Elevated error rates on the {component}", "Degraded performance in {region}",
                 "Delayed {component}", "Sign-in issues for some users", "Partial outage: {component}",
                 "Increased latency for API requests", "Payment processing delays",
                 "Builds stuck in queued state", "Intermittent 502 errors on the dashboard"]

STATUS_INVESTIGATING = [
    "We are investigating reports of elevated error rates for the {component} in {region}. Some customers may see failed requests or slow page loads. We will post an update within {mins} minutes.",
    "We're aware that some users can't sign in with single sign-on. If you're affected, you can still sign in with your e-mail address and password. We'll update this page as soon as SSO works again.",
    "Some customers are seeing SMS verification codes arrive late or not at all. As a workaround, choose 'Use authenticator app' on the sign-in page. Please do not request more than three codes in a row; further requests are rate-limited and will not arrive faster.",
    "We are looking into an increase in 502 errors when loading the dashboard. The API is not affected. If a page fails to load, please refresh it; your data is safe.",
]
STATUS_IDENTIFIED = [
    "The issue has been identified as a faulty configuration change to our {component} in {region}. We are rolling the change back now. No action is required from you.",
    "We have identified the cause: a certificate on one of our load balancers expired at {t1} UTC. A new certificate is being deployed. Requests should start succeeding within the next {mins} minutes.",
    "The cause is a failing storage node behind the {component}. Traffic has been moved to healthy nodes. Please don't retry failed exports in a loop; we will re-run them for you once the backlog is processed.",
]
STATUS_MONITORING = [
    "A fix has been deployed and we are monitoring the results. If you continue to see errors, please clear your browser cache and try again, or contact support with your account ID.",
    "Error rates are back to normal. We're keeping an eye on things. Webhooks that failed during the incident are being redelivered automatically; you do not need to resend them.",
    "Service has been restored for most customers. A small number of workspaces still show stale data. If yours is one of them, there's no need to contact us: we are reprocessing those workspaces and they'll catch up within {hours} hours.",
]
STATUS_RESOLVED = [
    "This incident has been resolved. Between {t1} and {t2} UTC, about {pct}% of API requests to the {component} returned 503 errors. We'll publish a post-incident review within {days} business days.",
    "Resolved: builds stuck in 'queued' have started again. If a build is still queued after 15 minutes, please cancel it and start it again from the dashboard.",
    "This incident is resolved. Card payments in {region} are working normally. If a customer reports being charged twice, please wait {hours} hours before issuing a refund: duplicate authorisations are released automatically by the card networks.",
    "All systems are operating normally. We're sorry for the disruption. If you notice anything unusual, reply to this e-mail or open a ticket and mention incident {incident_id}.",
]
STATUS_STANDALONE = [
    "Update: please disregard the earlier notice about scheduled maintenance on {date_short}. It was sent in error and no maintenance is planned for that day. We apologise for the confusion.",
    "Scheduled maintenance: on {date_short} between {t1} and {t2} UTC we will upgrade the database cluster behind the {component}. During this window the dashboard will be read-only. API writes will be queued and applied afterwards. No action is required.",
    "Correction: our previous update said that passwords needed to be reset. That was incorrect. Your password was not affected and you do not need to change it. We're sorry for the alarm this caused.",
    "Heads up: the API rate-limit change announced for {date_short} has been postponed. Keep your current retry settings. We'll give at least 30 days' notice before the new limits take effect.",
    "You are receiving this e-mail because you subscribed to updates for {product} ({component}). To stop receiving these e-mails, unsubscribe at https://status.example.com/unsubscribe/{token}. To change which components you follow, manage your subscription on the status page.",
    "Post-incident summary for {incident_id}\n\nWhat happened: on {date_short}, a certificate on our {region} load balancer expired and HTTPS requests failed for {n} minutes.\nWhat we are doing: we have added monitoring for certificate expiry and moved renewals to an automated process.\nWhat you need to do: nothing. If you pinned our certificate, update the pin to the new one listed in our documentation.",
    "This incident affected only customers on the legacy v1 API. Customers on v2 were not affected. If you are still on v1, please plan your migration; the migration guide is linked from the API reference.",
    "Completed: the scheduled maintenance ({maint_id}) has finished ahead of time. Everything is back to normal. If you notice anything unusual, please reply to this e-mail or open a ticket and mention the maintenance ID.",
    "Degraded performance: e-mail notifications are delayed by up to {mins} minutes. Notifications are not lost; they will arrive once the backlog clears. Please don't retrigger alerts manually, as this may produce duplicates.",
]

SUPPORT = [
    "Hi {cname},\n\nThanks for reaching out! To look into this, please reply with your order ID (it starts with ORD- and is in your confirmation e-mail) and the e-mail address you used at checkout.\n\nBest,\n{agent}\n{shop} Support",
    "For your security, please do not share your password, one-time codes or full card number with anyone, including our support team. We will never ask for them by e-mail, chat or phone. If someone does, please report it to us.",
    "Macro: Refund - processed\n\nHi {cname}, your refund of {amount} for order {order_id} has been processed. Depending on your bank, it can take 5-10 business days to show on your statement. If it hasn't appeared after that, reply to this ticket and we'll send you the refund reference.",
    "Macro: Need more info - bug report\n\nThanks for the report! Could you send us:\n1) the app version (Settings > About),\n2) your device model and OS version,\n3) a screenshot of the error, and\n4) roughly when it happened, including your time zone?\nPlease don't include passwords or payment details in screenshots.",
    "Macro: Account locked\n\nHi {cname}, your account was locked after several unsuccessful sign-in attempts. It unlocks automatically after 30 minutes. If you've forgotten your password, use 'Forgot password' on the sign-in page to set a new one. You don't need to contact us again unless it stays locked.",
    "Macro: Shipping delay\n\nWe're sorry your parcel is late. Carriers in your area are reporting delays of {n} days. Your tracking number is {tracking}. If it hasn't moved in 7 days, reply to this e-mail and we'll send a replacement or a refund, whichever you prefer.",
    "We've received your request ({ticket_id}). Our team usually replies within one business day. You don't need to open another ticket: simply reply to this e-mail to add information.",
    "Macro: Phishing report\n\nThanks for forwarding this. That e-mail did not come from us. Please delete it and don't click any links in it. If you entered your password on that page, change it now from Settings > Security and turn on two-step verification.",
    "Macro: Cancel subscription\n\nYou can cancel anytime from Account > Billing > Cancel plan. You'll keep access until the end of the current billing period ({date_short}). If you'd rather we cancel it for you, just reply 'cancel' from the e-mail address on the account.",
    "Internal note (not visible to the customer): customer says the invoice address on {invoice_id} is wrong. Please check with billing before re-issuing; we can only re-issue once per invoice. Assign back to me when done. - {agent}",
    "We're closing this ticket because we haven't heard back from you in 7 days. If you still need help, simply reply to this e-mail and the ticket will reopen automatically.",
    "How did we do? Please rate your conversation with {agent}. Your feedback helps us improve, and the survey takes less than a minute. Reply with a number from 1 (poor) to 5 (great).",
    "Macro: Two-factor reset\n\nTo reset two-factor authentication we need to confirm that you own the account. Please reply from the account's e-mail address with the last four digits of the card on file and the date of your last invoice. Never send the full card number.",
    "Macro: Escalation acknowledgement\n\nI've passed this on to our second-line team, who will contact you directly. Please don't reply to the older ticket {ticket_id2}; we've merged it into this one so everything is in one place.",
    "Macro: Wrong item received\n\nSo sorry about the mix-up! Please don't send the item back yet. Reply with a photo of the item and the packing slip, and we'll arrange a free return label or let you keep it.",
    "Hi {cname}, you asked us to delete your account and data. Before we do that, please confirm by replying 'CONFIRM DELETE' to this e-mail. Once confirmed, deletion can't be undone, so download anything you want to keep first.",
    "Macro: Hardware RMA\n\nPlease include the serial number (on the sticker under the device, starting with SN-) and a short description of the fault. Pack the device in its original box if you still have it. Do not include chargers or cables; we can't return them.",
    "Hi {cname},\n\nI checked with the warehouse and your order {order_id} left on {weekday}. Please allow 2-3 more days. If it still hasn't arrived by {date_short}, let me know and I'll open a claim with the carrier.\n\nWarm regards,\n{agent}",
    "Macro: Duplicate charge\n\nWhat you're seeing is a pending authorisation, not a second charge. It will disappear from your statement within 3-5 business days. If it's still there after a week, send us a screenshot of the statement line (please cover everything but the amount and date).",
]

SUPPORT_CHAT = [
    ("agent", "Hi {cname}, I'm {agent} from {product} support. How can I help?"),
    ("customer", "my export keeps failing"),
    ("agent", "Sorry about that! Can you try exporting a smaller date range, like one month, and tell me if that works?"),
    ("customer", "yes that worked"),
    ("agent", "Great. Please export the rest month by month for now; I've raised the issue with our engineers (ref {ticket_id})."),
    ("customer", "ok thanks"),
    ("agent", "You're welcome! Is there anything else I can help with today?"),
]

ZD_FOOTER = "##- Please type your reply above this line -##"

SLOTS["subject_line"] = lambda m: fill(pick(SUBJECT_LINES), m)

ERRORPAGE = [
    """<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>503 Service Unavailable</title>
</head><body>
<h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your
request due to maintenance downtime or capacity
problems. Please try again later.</p>
<hr>
<address>{server} Server at {domain} Port 443</address>
</body></html>""",
    """502 Bad Gateway

What happened?
The web server reported a bad gateway error. The page you requested could not be loaded from the site's origin server.

What can I do?
If you're a visitor of this website: please try again in a few minutes.
If you're the owner of this website: check that your origin server at {ip} is running and accepting connections on port 443, then check your server's error log.

Reference ID: {hex}""",
    """{"error":{"code":"rate_limited","message":"You have exceeded {n}00 requests per minute. Please wait {secs} seconds and try again, or contact your account manager to raise the limit.","docs":"https://docs.example.com/errors/rate_limited","request_id":"{req_id}"}}""",
    """{"error":"invalid_grant","error_description":"The refresh token has expired or was revoked. Please sign in again.","error_uri":"https://docs.example.com/oauth/errors#invalid_grant"}""",
    """403 Forbidden

Access denied. You don't have permission to view this page. If you believe this is a mistake, contact your administrator and mention reference {ref}.""",
    """This site can't be reached

{domain} took too long to respond.
Try:
  - Checking the connection
  - Checking the proxy and the firewall
  - Running network diagnostics
ERR_CONNECTION_TIMED_OUT""",
    """There has been a critical error on this website.

The site is experiencing technical difficulties. If you are the site owner, check your site administrator's e-mail inbox for a message with instructions on how to fix it, or enable debug logging in your configuration file to see the full error.""",
    """<!doctype html>
<title>Site Maintenance</title>
<article>
  <h1>We&rsquo;ll be back soon!</h1>
  <div>
    <p>Sorry for the inconvenience. We&rsquo;re performing some maintenance at the moment. If you need to, you can always contact us at support@{domain}; otherwise we&rsquo;ll be back online shortly!</p>
    <p>&mdash; The {product} Team</p>
  </div>
</article>""",
    """Page not found (404)

The link you followed may be broken, or the page may have been removed. Check the address for typos, go back to the home page, or use the search box above to find what you were looking for.""",
    """<html>
<head><title>413 Request Entity Too Large</title></head>
<body>
<center><h1>413 Request Entity Too Large</h1></center>
<hr><center>nginx</center>
</body>
</html>
<!-- app message: The file you uploaded is larger than 25 MB. Please compress it or upload it in smaller parts. -->""",
    """{"errors":[{"message":"You must be signed in to view this project.","locations":[{"line":2,"column":3}],"path":["project"],"extensions":{"code":"UNAUTHENTICATED","hint":"Send a valid access token in the Authorization header. Tokens expire after 8 hours; sign in again to get a new one."}}],"data":{"project":null}}""",
    """Your session has expired. Please sign in again to continue. Any unsaved changes in the editor have been kept as a draft and will be restored after you sign in.""",
    """{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds. Please use a different card or contact your bank.","param":"payment_method","request_log_url":"https://dashboard.example.com/logs/{req_id}"}}""",
    """Error 429 - Too Many Requests

Slow down! You've made too many requests in a short time. Please wait a few minutes before you try again. If you're running a script, add a delay between requests and respect the Retry-After header.""",
    """{"type":"https://api.example.com/problems/validation-error","title":"Your request parameters didn't validate.","status":400,"detail":"Fix the fields listed below and send the request again.","invalid_params":[{"name":"quantity","reason":"must be a positive integer"},{"name":"currency","reason":"must be one of EUR, GBP, USD"}]}""",
    """HTTP Error 500.19 - Internal Server Error
The requested page cannot be accessed because the related configuration data for the page is invalid.

Things you can try:
  - Check the web.config file in the application folder for malformed XML.
  - Make sure the application pool identity can read the file.
  - Create a tracing rule to track failed requests for this HTTP status code.

Module: IIS Web Core    Notification: BeginRequest    Error Code: 0x8007000d""",
    """Oops! Something went wrong on our end. Our team has been notified. Please refresh the page, and if the problem persists, contact support and quote error ID {err_id}.""",
    """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Request has expired. Ask the sender for a new download link and try again.</Message><Expires>{ts}</Expires><RequestId>{hex}</RequestId><HostId>{token}</HostId></Error>""",
    """Your browser is out of date. {product} no longer supports this version. Please update your browser or switch to a supported one (the latest two versions of Chrome, Firefox, Safari or Edge).""",
    """Cookies are disabled. Enable cookies for {domain} in your browser settings and reload this page to sign in. If you use a privacy extension, add this site to its allow list.""",
    """{"status":401,"error":"Unauthorized","message":"Your API key is missing or invalid. Create a key under Settings > API keys and send it in the X-Api-Key header.","path":"/v2/orders","timestamp":"{ts}"}""",
    """This account has been suspended. If you are the owner of this website, please contact your hosting provider's billing department to restore service.""",
]

ERRORPAGE_HTML_WRAP = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;color:#222}h1{font-size:1.6rem}.muted{color:#777;font-size:.85rem}</style>
</head>
<body>
<h1>{title}</h1>
<p>{body}</p>
<p class="muted">Request ID: {req_id} &middot; {ts}</p>
</body>
</html>"""

NOTIFY = [
    ("Reset your {product} password", "Hi {cname},\n\nWe received a request to reset the password for your {product} account. Click the link below to choose a new password:\n\nhttps://{domain}/reset?token={token}\n\nThis link expires in 60 minutes. If you didn't request a password reset, you can safely ignore this e-mail; your password will not change."),
    ("New sign-in to your account", "New sign-in to your {product} account\n\nWe noticed a new sign-in from {device} near {city} on {date}. If this was you, you don't need to do anything. If you don't recognise this activity, please change your password and review your active sessions at https://{domain}/security."),
    ("Your payment didn't go through", "We couldn't charge your card ending in {last4} for your {product} {plan} plan ({amount}). Please update your payment method by {date_short} to avoid any interruption. We'll retry the payment automatically in 3 days."),
    ("Your free trial ends in 3 days", "Hi {cname},\n\nYour {product} trial ends on {date_short}. To keep your projects and settings, choose a plan before then. If you decide not to continue, you don't need to do anything: your workspace will switch to the free tier and nothing will be deleted."),
    ("Confirm your e-mail address", "Welcome to {product}! Please confirm that {email} is your e-mail address by clicking the button below. If you didn't create an account, you can ignore this message and no account will be created.\n\n[ Confirm e-mail ] https://{domain}/verify/{token}"),
    ("Your verification code", "Your {product} verification code is {code6}. It expires in 10 minutes. Don't share this code with anyone. {product} staff will never ask you for it."),
    ("You've been invited to {team}", "{fullname} has invited you to join the {team} workspace on {product}. Accept the invitation within 7 days. If you weren't expecting this invitation, you can ignore this e-mail."),
    ("Your password was changed", "The password for your {product} account was changed on {date}. If you made this change, no further action is needed. If you did not, reset your password immediately and contact us at security@{domain}."),
    ("Your order has shipped", "Good news, {cname}! Your order {order_id} is on its way. Track your parcel with tracking number {tracking}. Please make sure someone is available to sign for it, or choose a pick-up point in the carrier's app."),
    ("You're almost out of storage", "You've used 95% of your {product} storage. Delete files you no longer need or upgrade your plan to keep syncing. Files over the limit won't be uploaded until you free up space."),
    ("API key expiring soon", "Your API key '{keyname}' expires on {date_short}. Create a new key in the console and update your integrations before then. Expired keys stop working immediately and can't be extended."),
    ("Your data export is ready", "Your export of {project} is ready. Download it within 7 days from Settings > Export. The link only works while you're signed in. If you didn't ask for an export, please let us know."),
    ("Appointment confirmed", "Dear {cname},\n\nYour appointment on {date_short} at {time} is confirmed. Please arrive 10 minutes early and bring your insurance card. To reschedule, call us or reply to this message at least 24 hours in advance."),
    ("Your weekly summary", "Here's what happened in {team} this week: {n} new issues, {n2} closed. You have 3 pull requests waiting for your review. Review them now, or change how often you get this summary in your notification settings."),
    ("Your account will be deleted", "We're sorry to see you go. Your {product} account is scheduled for deletion on {date_short}. If you change your mind, sign in before then to cancel the deletion. After that date we can't recover your data."),
    ("Receipt for your payment", "Thanks for your payment of {amount}. Your receipt number is {invoice_id}. Keep this e-mail for your records. Questions about your bill? Reply to this e-mail and our billing team will help."),
    ("Your domain expires soon", "Your domain {rdomain} expires in 14 days. Renew it now to keep your website and e-mail working. If auto-renew is on, no action is needed; we'll charge the card on file on {date_short}."),
    ("Action needed: verify your business details", "To keep receiving payouts, please confirm your business details by {date_short}. Sign in to your dashboard and open Settings > Business. We'll never ask you for your password or bank PIN by e-mail."),
]

NOTIFY_FOOTERS = [
    "\n\n--\nYou're receiving this e-mail because you have an account with {product}. Manage notification settings: https://{domain}/settings/notifications\n{product} Ltd, 1 Example Street, Springfield",
    "\n\nThis is an automated message, please do not reply. Need help? Visit https://help.example.com",
    "\n\nSent by {product} · Unsubscribe: https://{domain}/u/{token} · Privacy policy: https://{domain}/privacy",
]

CLIHELP = [
    """Usage: {tool} [OPTIONS] COMMAND [ARGS]...
Try '{tool} --help' for help.

Error: No such command 'deplyo'. Did you mean 'deploy'?""",
    """error: the following required arguments were not provided:
  --region <REGION>

Usage: {tool} create --region <REGION> <NAME>

For more information, try '--help'.""",
    """Error: {envvar} is not set.

Set the variable and try again, for example:

    export {envvar}=<value>

or pass the value on the command line with --config. Run '{tool} help config' for details.""",
    """Installation complete!

Next steps:
  1. Restart your terminal, or run: source ~/.{tool}/env
  2. Run '{tool} login' to connect your account.
  3. Run '{tool} doctor' if anything looks wrong.

Documentation: https://docs.example.com/{tool}""",
    """{tool}: permission denied while trying to connect to /var/run/{tool}.sock
This command needs elevated privileges. Re-run it with sudo, or add your user to the '{tool}' group and log in again:

    sudo usermod -aG {tool} $USER""",
    """A new release of {tool} is available: {ver1} -> {ver2}
To upgrade, run: {pkgmgr} upgrade {tool}
To turn off this notice, set {toolenv}_NO_UPDATE_NOTIFIER=1""",
    """Note: switching to '{hex}'.

You are in 'detached HEAD' state. You can look around, make experimental
changes and commit them, and you can discard any commits you make in this
state without impacting any branches by switching back to a branch.

If you want to create a new branch to retain commits you create, you may
do so (now or later) by using -c with the switch command.""",
    """WARNING: This will permanently delete the environment '{env}' and all of its data.
This cannot be undone.

Type the environment name to confirm: """,
    """Config file not found at ~/.config/{tool}/config.toml.
Run '{tool} init' to create one, or point to an existing file with --config <PATH>.""",
    """unknown flag: --forse
Did you mean this?
        --force

Usage:
  {tool} push [flags]

Run '{tool} push --help' for usage.""",
    """ERROR: Python 3.8 is not supported by {tool} {ver1}.
Please install Python 3.10 or newer and try again.
  Debian/Ubuntu:  sudo apt install python3.11
  macOS:          brew install python@3.12""",
    """! First copy your one-time code: {devcode}
Open https://{domain}/login/device in your browser and enter the code to authorise this device.
Waiting for authentication... (press Ctrl+C to cancel)""",
    """NAME
    {tool}-sync - synchronise local files with a remote bucket

SYNOPSIS
    {tool} sync [--dry-run] [--delete] <SRC> <DEST>

DESCRIPTION
    Copies new and changed files from SRC to DEST. Run with --dry-run first
    to see what would change. Use --delete with care: it removes files in
    DEST that no longer exist in SRC.""",
    """error: not enough free disk space on /var ({pct} MB left, 500 MB needed).
Free up space, or set {toolenv}_CACHE_DIR to a directory on a larger volume, then run the command again.""",
    """error: lock file is out of date with package.json.
Run '{pkgmgr} install' to update it, then commit the updated lock file.""",
    """{tool} collects anonymous usage data to help us improve the tool.
You can opt out at any time by running:

    {tool} config set telemetry false

Learn more: https://docs.example.com/{tool}/telemetry""",
    """Setup cannot continue because another installation is already in progress.
Wait for the other installation to finish, then run Setup again.
If the problem persists, restart your computer and try again. (Error 1618)""",
    """Welcome to the {tool} shell {ver1}.
Type 'help' for a list of commands, 'help <command>' for details, or 'exit' to quit.
Press Tab to autocomplete commands and table names.""",
    """Error: failed to connect to the API at https://api.example.com ({ip}:443): connection refused.
Check your network connection and proxy settings. If you are behind a corporate proxy, set HTTPS_PROXY and try again.""",
    """hint: Updates were rejected because the tip of your current branch is behind
hint: its remote counterpart. Integrate the remote changes (e.g.
hint: 'git pull ...') before pushing again.
hint: See the 'Note about fast-forwards' in 'git push --help' for details.""",
    """Error: Kubernetes cluster unreachable: the server has asked for the client to provide credentials.
Your session may have expired. Run '{tool} auth refresh' and retry, or check that KUBECONFIG points to the right cluster.""",
]

CLI_CMDS = ["{tool} deplyo --env prod", "{tool} create my-app", "{tool} sync ./dist s3://assets", "{tool} push",
            "{tool} init", "{tool} login", "{tool} env delete {env}",
            "{tool} doctor", "./install.sh", "{tool} up"]

# Chat between colleagues. Coherent short threads (speaker index, text), and
# single lines that can be added around them.
CHAT_THREADS = [
    [(0, "can you restart the worker on {host}? it's stuck on the same job again"),
     (1, "on it"),
     (1, "restarted, queue is draining"),
     (0, "thanks! I'll keep an eye on it")],
    [(0, "please roll back {svc} to {ver1}, the new build is throwing 500s on checkout"),
     (1, "rolling back now"),
     (1, "rolled back, error rate dropping"),
     (2, "confirmed from the dashboard, p99 is back under 300ms"),
     (0, "great, let's not redeploy until we know what broke")],
    [(0, "CI is red on main again"),
     (1, "that's test_export_large_file, it's flaky"),
     (1, "ignore the flaky test for now, I'll fix it after lunch"),
     (0, "ok, I'll re-run the job and merge if everything else is green")],
    [(0, "heads up: I'm draining node {node} in 5 min for the kernel update"),
     (1, "ack. please don't drain two at once, the cache cluster needs a quorum"),
     (0, "yep, one at a time")],
    [(0, "anyone else seeing 401s from the billing API?"),
     (1, "yep, since about {t1}"),
     (2, "looks like the token rotation job ran early. can you check the secret version in the deploy?"),
     (1, "found it, the pod still mounts the old version. restarting the deployment"),
     (2, "401s gone")],
    [(0, "forget what I said about the cache, it's the DNS TTL"),
     (1, "ah that explains why only some pods see the new endpoint"),
     (0, "yeah. we'll have to wait it out, TTL is 300s")],
    [(0, "scratch that, the alert was for staging, not prod"),
     (1, "phew"),
     (1, "can you lower the staging alert to a warning so it stops paging?")],
    [(0, "@{name} could you take comms? post an update to the status page every 30 min"),
     (1, "sure. what do we say about the cause?"),
     (0, "keep it vague until we know more: 'we've identified elevated error rates and are working on a fix'"),
     (1, "posted")],
    [(0, "please don't restart the db primary, the failover is still in progress"),
     (1, "understood, hands off"),
     (0, "I'll ping here when the replica is promoted")],
    [(0, "kill the backfill job, it's hammering the replica"),
     (1, "killed. I'll rerun it tonight with a lower batch size"),
     (0, "thanks, replication lag is recovering")],
    [(0, "could you bump the pool size to 40 and redeploy?"),
     (1, "done, PR #{pr}"),
     (0, "approved, go ahead")],
    [(0, "don't page {name}, she's off today; I'll cover the payments alerts"),
     (1, "ok, updated the override in the rota")],
    [(0, "new plan: we fail over to {region2} and fix forward tomorrow"),
     (1, "agree. I'll start the runbook, please watch the error budget panel"),
     (2, "DNS switched, traffic moving")],
    [(0, "thanks all, closing the incident"),
     (0, "please fill in your bits of the postmortem doc by Friday, and write down the timeline while it's fresh"),
     (1, "will do"),
     (2, "👍")],
    [(0, "you'll need to purge the CDN cache after the deploy, otherwise users keep getting the old bundle"),
     (1, "good point, adding it to the release checklist")],
    [(0, "stop the canary, it's at {pct}% errors"),
     (1, "stopped. all traffic back on the stable version"),
     (0, "let's look at the canary logs before retrying")],
    [(0, "run the migration with --dry-run first so we see what it touches"),
     (1, "dry run says 3 tables, ~2M rows"),
     (0, "ok, please run it after 22:00 when traffic is low")],
    [(0, "did you try turning the feature flag off?"),
     (1, "yes, flag is off, still failing"),
     (0, "ok then it's not the new checkout code. check the payment provider's status page?"),
     (1, "they have an incident open. I'll link it in the timeline")],
    [(0, "tell support to hold replies for 20 min, we'll have a statement"),
     (1, "told them. they're using the 'we're investigating' macro until then")],
    [(0, "mute the disk alert on {host} for an hour, it's just log rotation"),
     (1, "muted until {t2}")],
    [(0, "nit: please rename `cnt` to `retry_count`, it took me a minute to get it"),
     (1, "done"),
     (0, "lgtm, ship it")],
    [(0, "can you add a test for the empty-cart case before we merge?"),
     (1, "added, and it caught a bug, so thanks"),
     (0, "😄 approving")],
    [(0, "who owns the {svc} dashboard? the p99 panel is broken"),
     (1, "{team} does. I'll open a ticket for them"),
     (0, "thanks")],
    [(0, "please keep side chat out of this channel, use #{chan} instead"),
     (1, "sorry, moving")],
    [(0, "can someone check whether the cron on {host} actually ran last night?"),
     (1, "it ran at 02:00 but exited 1. logs say the bucket was read-only"),
     (0, "right, that's the maintenance window. rerun it manually please")],
    [(0, "let me know when you're done so I can resume the deploy pipeline"),
     (1, "done, go ahead"),
     (0, "resumed")],
    [(0, "please review the revert: #{pr}"),
     (1, "approved"),
     (2, "merging, CI will take ~12 min")],
    [(0, "can you open a ticket with the vendor? mention our contract number and the incident ID {incident_id}"),
     (1, "opened, they say someone will call us within the hour")],
    [(0, "give me 2 min, VPN is being weird"),
     (1, "np"),
     (0, "back, looking at the logs now")],
    [(0, "just skip the smoke test for this hotfix, it's the known timeout in the sandbox; I'll rerun it once the sandbox is back"),
     (1, "ok. noting that in the release ticket")],
    [(0, "make sure you rotate the old key after the new one is live, and remove it from the vault"),
     (1, "yep, scheduled for tomorrow morning after the partners confirm")],
]

CHAT_LINES = [
    "brb", "👀", "on it", "ack", "np", "nice catch", "thanks!", "same here",
    "is anyone looking at the {svc} alert?",
    "I'm taking this one",
    "paging {team} on-call",
    "please write what you tried in the thread so we don't repeat it",
    "can you share the grafana link?",
    "let me check the deploy history",
    "looks like it started right after the {t1} deploy",
    "I restarted it, logs look clean now",
    "don't merge anything to main until the incident is closed pls",
    "please update the ticket when you're done",
    "can you double-check the config in {region}? I think the override is missing there",
    "remember to turn the flag back on after the test",
    "try again now, I cleared the lock",
    "hmm still seeing timeouts from {host}",
    "could you keep the incident doc open and note timestamps?",
    "I'll grab lunch and take over again at 14:00",
]

SPEAKER_SUFFIX = ["", "", "", ".sre", "_ops", "-dev"]

LLMAPP = [
    """jinja2.exceptions.UndefinedError: 'shop' is undefined
  while rendering template "support_system_v3.j2" for conversation {conv_id}
  template source:
    You are a helpful support assistant for {{ shop }}. Answer questions about orders, shipping and returns.
    If you are not sure about an answer, say so and offer to hand the conversation over to a human agent.""",
    """Traceback (most recent call last):
  File "/app/bot/prompts.py", line 48, in build_prompt
    return SUMMARY_TEMPLATE.format(**fields)
KeyError: 'ticket_body'
SUMMARY_TEMPLATE = "Summarise the following ticket for the on-call engineer in three bullet points.\\nTicket from {customer_name}:\\n{ticket_body}"
fields = {'customer_name': '{fullname}', 'ticket_subject': 'Export keeps failing'}""",
    """{"level":"info","ts":"{ts}","msg":"completion ok","model":"{model}","template":"faq_answer_v2","prompt_tokens":{tok_in},"completion_tokens":{tok_out},"latency_ms":{lat},"conversation":"{conv_id}"}""",
    """openai.BadRequestError: Error code: 400 - {'error': {'message': "This model's maximum context length is 8192 tokens. However, your messages resulted in 9{tok_out} tokens. Please reduce the length of the messages.", 'type': 'invalid_request_error', 'param': 'messages', 'code': 'context_length_exceeded'}}""",
    """moderation: response withheld for conversation {conv_id}; the model declined the request (policy=medical_dosage). Shown to the user: "I can't help with dosage questions. Please ask a pharmacist or your doctor." """,
    """ToolCallValidationError: tool 'get_order_status' called with invalid arguments for conversation {conv_id}:
  - 'order_id' is a required property
  - additional property 'orderId' is not allowed
raw arguments: {"orderId": "{order_id}"}
schema: {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]{8}$"}}, "required": ["order_id"]}""",
    """eval suite: refund_policy  model={model}  prompt=support_v7  cases=50
  rp-013 PASS
  rp-014 PASS
  rp-015 FAIL  expected the answer to mention "30 days"; got: "You can return most items within 14 days of delivery. Please keep the receipt."
  rp-016 PASS
  rp-017 ERROR timeout after 30s
summary: 46/50 passed (92.0%), 3 failed, 1 error""",
    """prompt registry: 'welcome_email_writer' updated v4 -> v5 by {email}
- system: "You write short, friendly welcome e-mails for new customers of {{ brand }}. Keep them under 150 words."
+ system: "You write short, friendly welcome e-mails for new customers of {{ brand }}. Keep them under 120 words and mention the help centre."
diff approved in review #{pr}""",
    """anthropic.RateLimitError: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'This request would exceed your organization's rate limit of 80,000 input tokens per minute. Please reduce the prompt length or the maximum tokens requested, or try again later.'}}
retrying in {secs}s (attempt 2/5)""",
    """langchain_core.exceptions.OutputParserException: Invalid json output: Sure! Here is the summary you asked for:
- customer cannot export invoices
- started after the last update
expected an object with keys 'summary' and 'priority'. For troubleshooting, see the parser docs.""",
    """guardrail pii_redaction: redacted 2 e-mail addresses and 1 phone number from the user message before sending it to {model} (conversation {conv_id})""",
    """retrieval: 0 documents above threshold 0.72 for query "how do I change my billing address"; falling back to the default answer: "I couldn't find that in our help centre. Would you like me to connect you with a person?" """,
    """stream closed by client after {n} chunks; partial answer saved to conversation {conv_id} (completion_tokens={tok_out}, finish_reason=null)""",
    """daily LLM spend for project {project}: $12.41 (input 1.9M tokens, output 210k tokens, {model}); budget alert fires at 80% of $15.00. Owners: {email}""",
    """loaded system prompt "ticket-triage" (sha256:{hex}{hex2}), {tok_out} tokens:
  "You label incoming support tickets with one of: billing, shipping, account, other. Answer with the label and a one-line reason."
prompt cache: hit ratio 0.93 over the last hour""",
    """provider rejected the tool schema: tools[2].function.parameters must be a JSON Schema object, got type 'array' (tool 'search_help_center'). Fix the schema in tools/help_center.json; requests using this tool are failing with 400.""",
    """judge(model={model}) score=2/5 for case faq-088: "The answer tells the customer to contact their bank, but the policy says we refund directly to the original payment method." """,
    """conversation {conv_id} turn 3 assistant: "Your order {order_id} is on its way and should arrive on {weekday}. You can track it from the link in your shipping e-mail." (tokens={tok_out}, latency={lat}ms, model={model})""",
    """embedding batch {n}/60 failed: input 233 exceeds 8191 tokens (document kb/billing/refunds.md); truncating to 8000 tokens and retrying""",
    """refusals in the last hour: {n} (0.8% of conversations), top category self_harm_resources; the bot replied with the configured helpline message. No action needed unless the rate exceeds 2%.""",
    """TemplateSyntaxError: unexpected '}' in prompt template "order_followup" line 3:
  Hi {{ customer.first_name }}, thanks for your order {{ order.id }}}. Let us know if you have any questions.
                                                            ^""",
    """[eval] run {hex} finished: faithfulness 0.91, answer_relevance 0.88, toxicity 0.00 on 200 cases (dataset helpdesk-faq-v3, {model}). 7 cases regressed vs. baseline; see report/regressions.html""",
    """prompt_tokens={tok_in} completion_tokens={tok_out} total_tokens={tok_in}{n} cache_read=1024 model={model} route=/v1/chat user={uid} status=200""",
]

LLMAPP_LOGPREFIX = ["{ts} INFO  ", "{ts} WARN  ", "{ts} ERROR ", "[{ts}] ", ""]

I18N_ENTRIES = [
    ("errors.network", "You appear to be offline. Check your connection and try again."),
    ("errors.session_expired", "Your session has expired. Please sign in again."),
    ("errors.generic", "Something went wrong. Please try again later."),
    ("errors.permission", "You don't have access to this folder. Ask the owner to share it with you."),
    ("errors.not_found", "We couldn't find that page. Check the address or go back to the home page."),
    ("errors.camera_denied", "Camera access is blocked. Allow camera access in your browser settings, then reload the page."),
    ("errors.rate_limited", "Too many attempts. Wait a minute and try again."),
    ("form.required", "Please fill in this field."),
    ("form.email_invalid", "Enter an e-mail address in the format name@example.com."),
    ("form.password_rules", "Use at least 12 characters. Don't reuse a password from another site."),
    ("form.password_mismatch", "The passwords don't match. Type the same password twice."),
    ("upload.too_large", "This file is too big. Choose a file smaller than {size} MB."),
    ("upload.type", "You can only upload PDF, PNG or JPG files."),
    ("payment.declined", "Your card was declined. Try another card or contact your bank."),
    ("payment.3ds", "Your bank needs to confirm this payment. Follow the steps in the window that opens."),
    ("otp.hint", "Enter the 6-digit code we sent to your phone. Never share this code with anyone."),
    ("otp.resend", "Didn't get a code? Resend it in {seconds} seconds."),
    ("cookie.banner", "We use cookies to keep you signed in. You can change your choice at any time in Settings."),
    ("cart.items", "{count, plural, one {# item} other {# items}} in your cart"),
    ("checkout.address_incomplete", "Please complete your address before continuing."),
    ("a11y.close_dialog", "Close dialog"),
    ("a11y.error_prefix", "Error:"),
    ("a11y.show_password", "Show password"),
    ("a11y.hide_password", "Hide password"),
    ("a11y.skip_link", "Skip to main content"),
    ("a11y.loading", "Loading, please wait"),
    ("a11y.saved", "Changes saved"),
    ("a11y.required_field", "{label}, required"),
    ("a11y.captcha_audio", "Press play and type the numbers you hear."),
    ("a11y.menu_open", "Open navigation menu"),
    ("a11y.toast_dismiss", "Dismiss notification"),
    ("a11y.error_summary", "There is a problem. {count} fields need your attention; use the links below to go to each one."),
    ("settings.delete_account_confirm", "Type DELETE to confirm. This can't be undone."),
    ("offline.banner", "You're offline. We'll save your changes and sync them when you're back online."),
    ("update.available", "A new version is available. Reload to update."),
]

I18N_LOGS = [
    """i18n: missing key '{key}' for locale {locale}, falling back to en: "{text}" """,
    """[intl] MISSING_TRANSLATION: Missing message: "{key}" for locale: "{locale}", using default message ("{text}") as fallback.""",
    """i18n-lint: locales/{locale}/errors.json: key '{key}' is missing; en value: "{text}" """,
    """axe-core: 3 violations on /checkout
  - label: Form elements must have labels (2 nodes). Fix: add an aria-label or a <label> element, e.g. aria-label="{text}"
  - color-contrast: Elements must meet minimum color contrast ratio thresholds (1 node)""",
    """ICU MessageFormat syntax error in locales/{locale}/cart.json key "{key}": expected "other" case in plural argument. Source text: "{text}" """,
    """translations sync: 14 strings updated for {locale} from the translation service; 2 strings need review ("{key}": source text changed to "{text}")""",
    """pa11y: [error] This form field should be labelled in some way. Use the label element (either with a "for" attribute or wrapped around the form field), or "title", "aria-label" or "aria-labelledby" attributes as appropriate. (#email)""",
    """lighthouse accessibility 82/100 on /signup: "Buttons do not have an accessible name". Suggested label for the icon button: "{text}" """,
]

LOCALES = ["de-DE", "fr-FR", "pt-BR", "ja-JP", "pl-PL", "es-MX", "it-IT", "nl-NL", "ko-KR", "tr-TR", "sv-SE", "en-GB"]

LEGAL = [
    "GDPR data export {export_id} for data subject {subject_id} is ready. The download link was e-mailed to the account owner and expires in 7 days. Exports are deleted after 30 days in line with our retention policy.",
    "Retention notice: log data older than 90 days in project {project} will be permanently deleted on {date_short}. If you need to keep it for legal reasons, place a legal hold before that date.",
    "Legal hold {hold_id} applied to the mailbox of {email} by {fullname} (Legal). Deletion and retention policies are suspended for this mailbox until the hold is released. Do not inform the custodian unless Legal approves.",
    "Data subject request {dsr_id} (erasure) completed: {n} records deleted, 2 records retained under Art. 17(3)(b) GDPR (legal obligation: invoices, 10-year retention). Reply to the requester within 30 days of receipt.",
    "This e-mail and any attachments are confidential and intended solely for the addressee. If you have received it in error, please notify the sender immediately and delete it from your system. Any unauthorised use, disclosure or copying is prohibited.",
    "Cookie consent: user {uid} withdrew consent for analytics on {date}. Analytics tags will no longer load for this user; data collected before the withdrawal is kept per the retention schedule.",
    "By continuing to use {product} you agree to the updated Terms of Service effective {date_short}. Please read them carefully. If you do not agree, you can close your account at any time from Settings > Account.",
    "CCPA 'Do Not Sell or Share' request received from {email}; opt-out recorded. Propagate the opt-out to advertising partners within 15 business days.",
    "Audit log export for {year} Q{q} is available to workspace owners. This export contains personal data: store it securely and delete it when it is no longer needed.",
    "Notice of a personal data breach (Art. 34 GDPR)\n\nWe are writing to let you know about an incident that may have affected your personal data. On {date_short} we discovered that an internal report containing names and e-mail addresses was accessible to another customer for about {hours} hours. Passwords and payment details were not affected.\n\nWhat you can do: be careful with e-mails asking for your password or payment details. We will never ask for them. If you have questions, contact our data protection officer at dpo@{domain}.",
    "Record of processing updated: {vendor} added as a sub-processor (purpose: e-mail delivery; location: EU). Customers have been notified and have 30 days to object.",
    "Export compliance: shipment {order_id} held for sanctions screening. Do not release it until the compliance team has cleared it.",
    "CONFIDENTIALITY NOTICE: This message may contain protected health information. If you are not the intended recipient, do not read, copy or forward it; notify the sender by reply e-mail and destroy all copies.",
    "Consent log: marketing e-mails disabled for {email} (source: unsubscribe link). Do not re-enable without a fresh opt-in.",
    "Retention job finished: {n}04 closed tickets anonymised (older than 24 months), attachments purged. Next run: {date_short}.",
    "Account closure notice: as required by law, we'll keep your transaction records for 7 years. All other personal data will be deleted within 30 days. You can ask us for a copy of your data before then.",
    "Right of access request {dsr_id}: identity verification pending. Ask the requester to confirm via the link sent to their registered e-mail address; do not accept copies of ID documents by e-mail.",
    "Copyright notice: a takedown request was received for https://{domain}/u/{uid}/gallery. The content has been disabled. If you believe this was a mistake, you can file a counter-notice from your dashboard.",
    "Privacy policy update: from {date_short} we will store support chat transcripts for 12 months instead of 24. You don't need to do anything; older transcripts will be deleted automatically.",
    "Data processing agreement for {fullname} ({rdomain}) signed and countersigned. Please file the PDF in the contracts folder and set a review reminder for next year.",
]

CRASH = [
    "{game} has stopped working.\n\nA problem caused the program to stop working correctly. Windows will close the program and notify you if a solution is available.\n\n[Close program]",
    "Oops! {app} crashed.\n\nWe're sorry about that. Would you like to send a crash report to help us fix the problem? The report includes the app version, your device model and a stack trace. It doesn't include your messages or photos.\n\n[Send report]  [Don't send]",
    "{app} keeps stopping\n\n  App info\n  Close app\n  Send feedback",
    "The application was unable to start correctly (0xc000007b). Click OK to close the application.",
    "Update installed. Please restart the app to finish installing the update. Your drafts are saved.",
    "Connection lost. Check your internet connection and tap Retry. Your progress has been saved.",
    "Unable to load save file 'slot{n}.sav'. The file may be corrupted.\nWould you like to load the automatic backup from {date_short} instead?\n\n[Load backup]  [Cancel]",
    "Your graphics driver is out of date (version {ver1}). Update it to the latest version for the best experience and to avoid crashes.\n\nContinue anyway?",
    "Fatal error: out of video memory while allocating a rendering resource. Make sure your graphics card has at least 4 GB of memory, try lowering the resolution or texture quality, and close other applications. Exiting...",
    "{app} quit unexpectedly.\n\nClick Reopen to open the application again. Click Report to see more details and send a report to the developer.\n\n[Ignore]  [Report...]  [Reopen]",
    "The server is full. Please try again in a few minutes, or pick another region in Settings > Network.",
    "Your account is signed in on another device. Sign in here to keep playing; you'll be signed out on the other device.",
    "Anti-cheat service is not running. Please restart the game. If the problem persists, verify the game files in the launcher (Library > {game} > Properties > Verify).",
    "We couldn't sync your photos. Free up some space on your phone, then open {app} again. Nothing has been deleted.",
    "Crash reporter: a minidump was written to %LOCALAPPDATA%\\{game}\\Crashes\\{hex}.dmp. Please attach this file when you contact support, along with a description of what you were doing.",
    "A new version of {app} is required. Update the app from the store to keep using it. Your data will be kept.",
    "Something went wrong while saving your drawing. Don't close the app - we'll try again in a few seconds.",
    "{game} needs to restart to apply the new settings. Restart now?\n\n[Restart]  [Later]",
    "Send report to developer?\n\n{app} closed because of an error. Sending the report helps us find the cause. You can see what the report contains before sending it.\n\n[Don't send]  [View report]  [Send]",
    "Low memory. {app} was closed in the background to free up memory. Close some other apps and open {app} again.",
]

CRASH_FEEDBACK = [
    "it crashed when I opened the map, please fix",
    "crashes every time I try to attach a photo",
    "game freezes after the second level loads, had to restart the phone",
    "I was just scrolling and it closed",
    "happened right after the update",
    "please help, I lost my saved progress",
]

# --------------------------------------------------------------------------
# Multilingual templates, written per language (not translations of one set).
# Chat entries are threads: one line per message, "0:" / "1:" / "2:" = speaker.
# --------------------------------------------------------------------------

ML = {
    "de": [
        ("bounce", "Dies ist eine automatisch erstellte Nachricht des Mailservers {mx}.\n\nIhre Nachricht an {rcpt} konnte nicht zugestellt werden. Das Postfach des Empfängers ist voll.\n\nBitte versuchen Sie es später erneut oder benachrichtigen Sie den Empfänger auf einem anderen Weg.\n\nFehlercode: 552 5.2.2 Mailbox full"),
        ("statuspage", "Update: Bitte ignorieren Sie unsere vorherige Benachrichtigung zur Wartung am {date_dmy}. Sie wurde irrtümlich versendet. Es ist keine Aktion Ihrerseits erforderlich."),
        ("statuspage", "Behoben: Zwischen {t1} und {t2} Uhr kam es bei Kartenzahlungen zu Verzögerungen. Alle Zahlungen wurden inzwischen verarbeitet. Bitte lösen Sie Zahlungen nicht erneut aus – doppelte Reservierungen werden automatisch freigegeben."),
        ("support", "Hallo {cname},\n\nvielen Dank für Ihre Nachricht. Damit wir Ihre Anfrage bearbeiten können, antworten Sie bitte mit Ihrer Bestellnummer (z. B. {order_id}). Bitte geben Sie Ihr Passwort niemals weiter, auch nicht an unseren Kundenservice.\n\nViele Grüße\n{agent} vom {shop}-Team"),
        ("notifymail", "Passwort zurücksetzen\n\nWir haben eine Anfrage zum Zurücksetzen Ihres Passworts für {product} erhalten. Der Link ist 60 Minuten gültig:\nhttps://{domain}/reset?token={token}\n\nWenn Sie das nicht waren, können Sie diese E-Mail einfach ignorieren. Ihr Passwort bleibt unverändert."),
        ("errorpage", "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut. Wenn Sie der Betreiber dieser Seite sind, prüfen Sie das Fehlerprotokoll Ihres Webservers."),
        ("clihelp", "Fehler: Die Umgebungsvariable {envvar} ist nicht gesetzt.\nSetzen Sie die Variable und versuchen Sie es erneut, oder geben Sie den Wert mit --config an.\nHilfe: {tool} --help"),
        ("crashdialog", "{app} wurde unerwartet beendet.\n\nMöchten Sie einen Fehlerbericht an den Entwickler senden? Der Bericht enthält keine persönlichen Daten.\n\n[Nicht senden]  [Senden]"),
        ("legal", "Ihr Datenexport gemäß Art. 15 DSGVO steht bereit. Der Download-Link ist 7 Tage gültig; danach wird die Datei automatisch gelöscht. Bei Fragen wenden Sie sich an datenschutz@{domain}."),
        ("chat", "0: kannst du den Worker auf {host} neu starten? der hängt schon wieder\n1: mach ich\n1: neu gestartet, die Queue läuft wieder\n0: danke! bitte bis zum Ende des Incidents nichts nach main mergen"),
        ("chat", "0: den flaky Test bitte erstmal ignorieren, ich kümmere mich heute Nachmittag drum\n1: ok, ich starte den Job neu"),
        ("i18n", "de.json: \"errors.offline\": \"Sie sind offline. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.\", \"a11y.close_dialog\": \"Dialog schließen\""),
        ("llmapp", "Vorlage 'kundenservice_de' konnte nicht gerendert werden: Variable 'shop_name' fehlt. Vorlagentext: \"Du bist ein freundlicher Support-Assistent für {{ shop_name }}. Beantworte Fragen zu Bestellungen und Lieferungen.\""),
    ],
    "fr": [
        ("bounce", "Ceci est un message automatique du serveur {mx}.\n\nVotre message à {rcpt} n'a pas pu être remis : l'adresse est inconnue (550 5.1.1).\n\nVérifiez l'adresse du destinataire et renvoyez votre message."),
        ("statuspage", "Mise à jour : merci de ne pas tenir compte de notre précédent message concernant la maintenance du {date_dmy}. Il a été envoyé par erreur. Aucune action n'est requise de votre part."),
        ("support", "Bonjour {cname},\n\nMerci pour votre message. Afin de vérifier votre commande, merci de répondre à cet e-mail en indiquant votre numéro de commande. Ne communiquez jamais votre mot de passe, même à notre service client.\n\nCordialement,\n{agent}"),
        ("notifymail", "Réinitialisation de votre mot de passe\n\nNous avons reçu une demande de réinitialisation pour votre compte {product}. Ce lien expire dans 60 minutes. Si vous n'êtes pas à l'origine de cette demande, vous pouvez ignorer cet e-mail."),
        ("notifymail", "Votre période d'essai se termine le {date_dmy}. Pour conserver vos projets, choisissez une offre avant cette date. Si vous ne souhaitez pas continuer, vous n'avez rien à faire."),
        ("errorpage", "Le service est momentanément indisponible. Veuillez réessayer plus tard. Si vous êtes le propriétaire du site, vérifiez les journaux d'erreurs de votre serveur."),
        ("clihelp", "Erreur : la variable d'environnement {envvar} n'est pas définie.\nDéfinissez-la puis relancez la commande. Pour plus d'informations, exécutez '{tool} --help'."),
        ("crashdialog", "{app} a quitté de manière inattendue.\n\nVoulez-vous envoyer un rapport au développeur ? Cela nous aide à corriger le problème.\n\n[Ne pas envoyer]  [Envoyer]"),
        ("legal", "Ce message et ses pièces jointes sont confidentiels et destinés exclusivement à leur destinataire. Si vous l'avez reçu par erreur, merci d'en informer l'expéditeur et de le supprimer."),
        ("chat", "0: tu peux redémarrer le worker sur {host} ? il est encore bloqué\n1: ok je m'en occupe\n0: et ignore le test instable pour l'instant, je le corrige cet après-midi\n1: redémarré, la file se vide"),
        ("i18n", "fr.json : clé \"form.required\" = \"Veuillez renseigner ce champ.\" ; \"a11y.skip_link\" = \"Aller au contenu principal\""),
        ("statuspage", "Incident résolu. Entre {t1} et {t2}, certains utilisateurs ne pouvaient pas se connecter. Le problème est corrigé ; vous n'avez rien à faire. Nous publierons une analyse détaillée sous {days} jours ouvrés."),
    ],
    "es": [
        ("bounce", "No se ha podido entregar el mensaje a {rcpt}.\n\nEl servidor remoto respondió: 550 5.1.1 El usuario no existe.\n\nComprueba la dirección del destinatario y vuelve a enviar el mensaje."),
        ("statuspage", "Resuelto: entre las {t1} y las {t2} algunos pagos con tarjeta fallaron. Ya funcionan con normalidad. No es necesario que hagas nada; los cargos duplicados se anularán automáticamente."),
        ("support", "Hola, {cname}:\n\nGracias por contactar con nosotros. Para revisar tu pedido, responde a este correo con el número de pedido. Recuerda: nunca compartas tu contraseña con nadie.\n\nUn saludo,\n{agent}"),
        ("notifymail", "Hemos detectado un nuevo inicio de sesión en tu cuenta desde {device}. Si fuiste tú, no tienes que hacer nada. Si no, cambia tu contraseña cuanto antes."),
        ("errorpage", "Se ha producido un error inesperado. Inténtalo de nuevo más tarde. Si el problema continúa, ponte en contacto con el administrador y facilita el código {err_id}."),
        ("clihelp", "Error: falta el argumento obligatorio --region.\nEjecuta '{tool} create --help' para ver cómo se usa."),
        ("crashdialog", "{app} se ha cerrado inesperadamente. ¿Quieres enviar un informe de errores al desarrollador?"),
        ("legal", "Aviso de privacidad: hemos actualizado nuestra política de privacidad con efecto a partir del {date_dmy}. Puedes consultarla en tu cuenta. Si no estás de acuerdo, puedes cerrar tu cuenta en cualquier momento."),
        ("chat", "0: ¿puedes hacer rollback de {svc} a {ver1}? la versión nueva da 500\n1: voy\n1: hecho, la tasa de errores baja\n0: genial, gracias. no desplegamos nada más hoy"),
        ("i18n", "es-MX: \"payment.declined\": \"Tu tarjeta fue rechazada. Prueba con otra tarjeta o comunícate con tu banco.\""),
        ("support", "Macro: Devolución\n\nNo hace falta que nos envíes el producto todavía. Responde con una foto del artículo y del albarán y te enviaremos una etiqueta de devolución gratuita."),
    ],
    "pt": [
        ("bounce", "Não foi possível entregar sua mensagem para {rcpt}.\n\nMotivo: a caixa postal do destinatário está cheia.\n\nTente novamente mais tarde ou entre em contato com o destinatário por outro meio."),
        ("statuspage", "Atualização: desconsidere o aviso anterior sobre a manutenção programada. Ele foi enviado por engano. Nenhuma ação é necessária da sua parte."),
        ("support", "Olá, {cname}!\n\nObrigado pelo contato. Para verificarmos seu pedido, responda a este e-mail com o número do pedido. Nunca compartilhe sua senha com ninguém, nem com a nossa equipe."),
        ("notifymail", "Seu código de verificação é {code6}. Ele expira em 10 minutos. Não compartilhe este código com ninguém. Se você não solicitou, ignore esta mensagem."),
        ("errorpage", "Ops! Algo deu errado. Tente novamente em alguns minutos. Se o problema persistir, entre em contato com o administrador do sistema."),
        ("clihelp", "Erro: a variável de ambiente {envvar} não está definida.\nDefina a variável e tente novamente. Use '{tool} --help' para ver todas as opções."),
        ("crashdialog", "O {app} parou de funcionar. Reinicie o aplicativo. Deseja enviar um relatório de erros ao desenvolvedor?"),
        ("legal", "Sua solicitação de portabilidade de dados (LGPD) {dsr_id} foi concluída. O link para download expira em 7 dias."),
        ("chat", "0: consegue reiniciar o worker no {host}?\n1: claro, reiniciando\n0: ignora o teste instável por enquanto, eu arrumo depois\n1: reiniciado, fila normalizando"),
        ("notifymail", "Não conseguimos processar o pagamento da sua assinatura {plan}. Atualize a forma de pagamento até {date_dmy} para evitar a suspensão. Vamos tentar novamente em 3 dias."),
        ("i18n", "pt-BR.json: \"errors.network\": \"Você está sem conexão. Verifique sua internet e tente novamente.\""),
    ],
    "it": [
        ("bounce", "Messaggio non recapitato\n\nIl messaggio inviato a {rcpt} non è stato consegnato perché la casella del destinatario è piena.\n\nRiprova più tardi oppure contatta il destinatario in un altro modo."),
        ("statuspage", "Aggiornamento: vi preghiamo di ignorare la comunicazione precedente sulla manutenzione programmata. È stata inviata per errore e non è richiesta alcuna azione da parte vostra."),
        ("support", "Ciao {cname},\n\ngrazie per averci scritto. Per verificare la spedizione, rispondi a questa email indicando il numero d'ordine. Ti ricordiamo di non condividere mai la tua password con nessuno.\n\nUn saluto,\n{agent}"),
        ("notifymail", "Il pagamento per il tuo abbonamento {plan} non è andato a buon fine. Aggiorna il metodo di pagamento entro il {date_dmy} per evitare l'interruzione del servizio."),
        ("errorpage", "Servizio momentaneamente non disponibile. Riprova tra qualche minuto. Se sei il proprietario del sito, controlla i log del server."),
        ("clihelp", "Errore: la variabile {envvar} non è impostata. Impostala e riprova, oppure usa l'opzione --config."),
        ("crashdialog", "{app} si è chiuso in modo imprevisto. Riavvia l'app. Vuoi inviare una segnalazione allo sviluppatore?"),
        ("legal", "La tua richiesta di accesso ai dati (GDPR, art. 15) è stata evasa. Il link per il download scade tra 7 giorni."),
        ("chat", "0: puoi riavviare il worker su {host}? è di nuovo bloccato\n1: certo, lo faccio ora\n0: il test instabile per ora ignoralo, lo sistemo io domani\n1: riavviato, la coda sta scendendo"),
        ("i18n", "it.json: \"a11y.show_password\": \"Mostra password\", \"errors.session_expired\": \"La sessione è scaduta. Accedi di nuovo.\""),
    ],
    "nl": [
        ("bounce", "Dit is een automatisch gegenereerd bericht.\n\nUw bericht aan {rcpt} kon niet worden afgeleverd. Het adres bestaat niet (550 5.1.1).\n\nControleer het e-mailadres en probeer het opnieuw."),
        ("statuspage", "Opgelost: tussen {t1} en {t2} konden sommige klanten niet inloggen. Het probleem is verholpen. U hoeft niets te doen."),
        ("support", "Hoi {cname},\n\nBedankt voor je bericht! Stuur ons je ordernummer, dan zoeken we het voor je uit. Deel je wachtwoord nooit met iemand, ook niet met onze klantenservice.\n\nGroet,\n{agent}"),
        ("notifymail", "Iemand heeft gevraagd om je wachtwoord opnieuw in te stellen. Was jij dat niet? Dan kun je deze e-mail negeren; je wachtwoord blijft ongewijzigd."),
        ("errorpage", "Deze pagina is tijdelijk niet beschikbaar. Probeer het later opnieuw. Bent u de eigenaar van deze website? Controleer dan of uw server bereikbaar is."),
        ("clihelp", "Onbekende optie: --forse\nBedoelde je --force?\nVoer '{tool} --help' uit voor alle opties."),
        ("crashdialog", "{app} is onverwacht gestopt. Wil je een foutrapport naar de ontwikkelaar sturen?"),
        ("legal", "Bewaartermijn: logbestanden ouder dan 90 dagen worden op {date_dmy} definitief verwijderd. Heeft u ze nodig voor een onderzoek? Vraag dan vóór die datum een bewaarplicht aan."),
        ("chat", "0: kun jij de deploy van {svc} even terugdraaien?\n1: ja, ben ermee bezig\n1: teruggedraaid, foutpercentage zakt\n0: top, dank je"),
    ],
    "pl": [
        ("bounce", "Wiadomość nie mogła zostać dostarczona do {rcpt}.\n\nSerwer odbiorcy odpowiedział: 550 5.1.1 Nieznany użytkownik.\n\nSprawdź, czy adres jest poprawny, i wyślij wiadomość ponownie."),
        ("statuspage", "Aktualizacja: prosimy zignorować wcześniejsze powiadomienie o przerwie technicznej {date_dmy}. Zostało wysłane omyłkowo. Nie musisz nic robić."),
        ("support", "Dzień dobry,\n\ndziękujemy za kontakt. Prosimy o odpowiedź z numerem zamówienia oraz adresem e-mail użytym przy zakupie. Nigdy nie podawaj nikomu swojego hasła ani kodów SMS.\n\nPozdrawiamy,\n{agent}"),
        ("notifymail", "Twój okres próbny kończy się {date_dmy}. Wybierz plan, aby zachować swoje projekty. Jeśli nie chcesz kontynuować, nie musisz nic robić."),
        ("errorpage", "Ups! Coś poszło nie tak. Spróbuj ponownie za chwilę. Jeśli problem się powtarza, skontaktuj się z administratorem i podaj identyfikator błędu {err_id}."),
        ("clihelp", "Błąd: nie ustawiono zmiennej środowiskowej {envvar}.\nUstaw zmienną i spróbuj ponownie."),
        ("crashdialog", "Aplikacja {app} przestała działać. Uruchom ją ponownie. Czy wysłać raport o błędzie do twórców?"),
        ("legal", "Żądanie usunięcia danych (RODO, art. 17) nr {dsr_id} zostało zrealizowane. Faktury przechowujemy przez 5 lat zgodnie z przepisami."),
        ("chat", "0: możesz zrestartować workera na {host}?\n1: jasne, już robię\n0: i nie mergujcie nic do main, dopóki incydent trwa\n1: zrestartowany, kolejka schodzi"),
    ],
    "ru": [
        ("bounce", "Это сообщение сгенерировано автоматически.\n\nНе удалось доставить письмо получателю {rcpt}.\nПричина: почтовый ящик получателя переполнен (552 5.2.2).\n\nПожалуйста, повторите отправку позже или свяжитесь с получателем другим способом."),
        ("statuspage", "Инцидент устранён. С {t1} до {t2} (МСК) часть платежей обрабатывалась с задержкой. Все платежи проведены, повторно оплачивать заказы не нужно."),
        ("statuspage", "Пожалуйста, не обращайте внимания на предыдущее уведомление о плановых работах: оно было отправлено по ошибке. Никаких действий с вашей стороны не требуется."),
        ("support", "Здравствуйте, {cname}!\n\nЧтобы мы могли проверить заказ, пришлите, пожалуйста, его номер в ответ на это письмо. Никому не сообщайте пароль и коды из SMS: сотрудники поддержки никогда их не запрашивают."),
        ("notifymail", "Вход в аккаунт с нового устройства: {device}. Если это были вы, ничего делать не нужно. Если нет, смените пароль в настройках безопасности."),
        ("errorpage", "Сервис временно недоступен. Попробуйте обновить страницу через несколько минут. Если вы администратор сайта, проверьте журнал ошибок веб-сервера."),
        ("clihelp", "Ошибка: переменная окружения {envvar} не задана. Задайте её и повторите попытку.\nСправка: {tool} --help"),
        ("crashdialog", "Приложение {app} неожиданно завершило работу. Перезапустите приложение. Отправить отчёт об ошибке разработчику?"),
        ("legal", "Уведомление о хранении данных: журналы старше 90 дней будут удалены {date_dmy}. Если данные нужны для проверки, оформите запрет на удаление до этой даты."),
        ("chat", "0: можешь перезапустить воркер на {host}? опять завис\n1: ок, сейчас\n0: и флаки-тест пока игнорируй, я его вечером починю\n1: перезапустил, очередь разбирается"),
        ("llmapp", "Ошибка рендеринга шаблона промпта 'support_ru': не найдена переменная order_id. Текст шаблона: «Ты вежливый ассистент службы поддержки магазина. Отвечай на вопросы о заказах и доставке.»"),
    ],
    "ja": [
        ("bounce", "このメールはシステムにより自動送信されています。\n\n以下の宛先へのメッセージは配信できませんでした。\n  {rcpt}\n理由: 宛先のメールアドレスが存在しません (550 5.1.1)\n\nメールアドレスに誤りがないかご確認のうえ、再度送信してください。"),
        ("statuspage", "【復旧のお知らせ】{date_iso} {t1}頃から発生していたログインしづらい状況は、{t2}に復旧いたしました。お客様による操作は必要ありません。ご不便をおかけし申し訳ございませんでした。"),
        ("statuspage", "先ほどお送りしたメンテナンスのお知らせは誤りでした。お手数ですが、前回のメールは破棄してください。"),
        ("support", "お問い合わせありがとうございます。確認のため、ご注文番号（例：{order_id}）をご返信ください。なお、パスワードは当社スタッフを含め、誰にも教えないでください。"),
        ("notifymail", "【{product}】新しい端末からのログインがありました\n日時: {date_iso} {time}\n端末: {device}\nお心当たりがない場合は、すぐにパスワードを変更してください。お心当たりがある場合、対応は不要です。"),
        ("errorpage", "ただいまアクセスが集中しています。しばらく時間をおいてから再度お試しください。"),
        ("clihelp", "エラー: 環境変数 {envvar} が設定されていません。変数を設定してから、もう一度実行してください。詳しくは `{tool} --help` を参照してください。"),
        ("crashdialog", "{app} が予期せず終了しました。アプリを再起動してください。問題が解決しない場合は、設定 > ヘルプ からお問い合わせください。"),
        ("legal", "個人情報の開示請求（受付番号 {dsr_id}）への対応が完了しました。ダウンロードリンクの有効期限は7日間です。"),
        ("chat", "0: {host} のワーカー再起動してもらえますか？\n1: 了解、今やります\n1: 再起動しました。キューが流れ始めました\n0: ありがとうございます！"),
        ("i18n", "ja.json の \"errors.offline\" = \"オフラインのようです。接続を確認して、もう一度お試しください。\""),
        ("llmapp", "プロンプトテンプレート 'faq_ja_v2' の描画に失敗しました: 変数 shop_name が未定義です。テンプレート: 「あなたは {{ shop_name }} のカスタマーサポート担当です。注文と配送に関する質問に丁寧に答えてください。」"),
    ],
    "zh": [
        ("bounce", "系统退信：您发送给 {rcpt} 的邮件未能送达。\n原因：收件人邮箱已满（552 5.2.2）。\n建议：请稍后重试，或通过其他方式联系收件人。"),
        ("statuspage", "【故障更新】我们已定位到支付回调延迟的原因，修复已上线，正在观察中。在此期间产生的订单无需您重新提交。"),
        ("statuspage", "请忽略我们昨天发送的维护通知，该通知发送有误，{date_iso} 没有计划中的维护。给您带来的困扰，敬请谅解。"),
        ("support", "您好，{cname}：感谢您的耐心等待。请回复您的订单号（以 ORD- 开头），我们将为您核实物流状态。温馨提示：请勿向任何人透露您的密码或验证码。"),
        ("notifymail", "您的验证码是 {code6}，10 分钟内有效。如非本人操作，请忽略本短信。"),
        ("errorpage", "服务器开小差了，请稍后再试。如果问题持续存在，请联系管理员并提供错误编号 {err_id}。"),
        ("clihelp", "用法: {tool} deploy [选项] <环境>\n错误: 缺少参数 <环境>。运行 '{tool} deploy --help' 查看帮助。"),
        ("crashdialog", "很抱歉，{app} 已停止运行。是否发送错误报告以帮助我们改进？\n[发送]  [不发送]"),
        ("legal", "根据数据保留政策，{date_iso} 之前的访问日志将被永久删除。如需保留，请在此日期前申请法律保全。"),
        ("chat", "0: 能帮忙把 {svc} 回滚到 {ver1} 吗？新版本一直报 500\n1: 好的，马上回滚\n1: 已回滚，错误率在下降\n0: 那个不稳定的测试先别管，我下午修"),
        ("i18n", "zh-CN 缺少翻译键 'checkout.address_required'，回退到英文：\"Please complete your address before continuing.\""),
        ("llmapp", "内容审核：模型拒绝了该请求（类别=医疗建议），已向用户展示默认回复：“抱歉，我无法提供用药建议，请咨询医生或药剂师。”"),
    ],
    "ko": [
        ("bounce", "메일 전송 실패 안내\n\n{rcpt} 주소로 보낸 메일이 전달되지 않았습니다. 받는 사람의 주소가 존재하지 않습니다(550 5.1.1).\n주소를 다시 확인한 후 다시 보내 주세요."),
        ("statuspage", "[장애 해결] {t1}부터 {t2}까지 일부 사용자에게 결제 오류가 발생했습니다. 현재는 정상화되었으며, 고객님께서 별도로 조치하실 필요는 없습니다."),
        ("support", "안녕하세요, {cname}님. 문의해 주셔서 감사합니다. 확인을 위해 주문번호를 회신해 주세요. 비밀번호나 인증번호는 절대 다른 사람에게 알려주지 마세요."),
        ("notifymail", "[{product}] 비밀번호 재설정 요청\n아래 링크를 눌러 새 비밀번호를 설정하세요. 링크는 30분 후 만료됩니다. 본인이 요청하지 않았다면 이 메일을 무시하셔도 됩니다."),
        ("errorpage", "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요. 문제가 계속되면 관리자에게 문의하세요."),
        ("clihelp", "오류: {envvar} 환경 변수가 설정되지 않았습니다. 변수를 설정한 후 다시 시도하세요."),
        ("crashdialog", "{app}이(가) 응답하지 않습니다. 앱을 다시 시작해 주세요. 오류 보고서를 개발자에게 보내시겠습니까?"),
        ("legal", "개인정보 보관 기간 만료 안내: 1년 이상 로그인하지 않은 계정의 개인정보는 {date_iso}에 분리 보관됩니다. 계속 이용하시려면 그 전에 로그인해 주세요."),
        ("chat", "0: {host} 워커 재시작 좀 해주실 수 있나요?\n1: 넵 지금 할게요\n1: 재시작 완료, 로그 깨끗합니다\n0: 감사합니다. 배포는 인시던트 끝날 때까지 멈춰주세요"),
        ("i18n", "ko.json: \"a11y.close_dialog\": \"대화 상자 닫기\", \"errors.session_expired\": \"세션이 만료되었습니다. 다시 로그인해 주세요.\""),
    ],
    "tr": [
        ("bounce", "Bu ileti otomatik olarak oluşturulmuştur.\n\n{rcpt} adresine gönderdiğiniz ileti teslim edilemedi. Alıcının posta kutusu dolu.\n\nLütfen daha sonra tekrar deneyin veya alıcıya başka bir yolla ulaşın."),
        ("statuspage", "Güncelleme: Daha önce gönderdiğimiz bakım bildirimini lütfen dikkate almayın. Bildirim yanlışlıkla gönderildi; sizin tarafınızda herhangi bir işlem yapılması gerekmiyor."),
        ("support", "Merhaba {cname},\n\nSiparişinizi kontrol edebilmemiz için lütfen bu e-postaya sipariş numaranızla yanıt verin. Şifrenizi kimseyle, destek ekibimizle bile paylaşmayın."),
        ("notifymail", "Ödemeniz alınamadı. {last4} ile biten kartınızdan {eur} tahsil edilemedi. Hizmetinizin kesintiye uğramaması için lütfen {date_dmy} tarihine kadar ödeme yönteminizi güncelleyin."),
        ("errorpage", "Çok fazla istek gönderdiniz. Lütfen birkaç dakika bekleyip tekrar deneyin."),
        ("clihelp", "Hata: yapılandırma dosyası bulunamadı. Yeni bir dosya oluşturmak için '{tool} init' komutunu çalıştırın."),
        ("crashdialog", "{app} beklenmedik şekilde kapandı. Hata raporunu geliştiriciye göndermek ister misiniz?"),
        ("legal", "KVKK kapsamındaki veri talebiniz ({dsr_id}) tamamlandı. İndirme bağlantısı 7 gün geçerlidir."),
        ("chat", "0: {svc} servisini {ver1} sürümüne geri alabilir misin? yeni sürüm 500 veriyor\n1: tamam, geri alıyorum\n1: geri alındı, hata oranı düşüyor\n0: süper, teşekkürler"),
        ("i18n", "tr.json anahtarı 'errors.network' çevirisi: \"İnternet bağlantınızı kontrol edip tekrar deneyin.\""),
    ],
    "sv": [
        ("bounce", "Ditt meddelande till {rcpt} kunde inte levereras. Mottagarens brevlåda är full.\n\nFörsök igen senare eller kontakta mottagaren på annat sätt."),
        ("statuspage", "Åtgärdat: mellan {t1} och {t2} kunde vissa kunder inte logga in. Felet är åtgärdat och du behöver inte göra något."),
        ("support", "Hej {cname}!\n\nTack för ditt meddelande. Svara gärna med ditt ordernummer så hjälper vi dig. Dela aldrig ditt lösenord med någon.\n\nVänliga hälsningar,\n{agent}"),
        ("notifymail", "Din provperiod slutar {date_iso}. Välj ett abonnemang för att behålla dina projekt. Om du inte vill fortsätta behöver du inte göra något."),
        ("errorpage", "Något gick fel. Försök igen om en stund. Om problemet kvarstår, kontakta din administratör."),
        ("crashdialog", "{app} avslutades oväntat. Vill du skicka en felrapport till utvecklaren?"),
        ("chat", "0: kan du starta om workern på {host}?\n1: japp, gör det nu\n1: omstartad, kön betas av\n0: tack!"),
        ("legal", "Raderingsbegäran {dsr_id} är genomförd. Bokföringsunderlag sparas i sju år enligt bokföringslagen."),
    ],
    "cs": [
        ("bounce", "Zprávu pro {rcpt} se nepodařilo doručit. Adresát neexistuje (550 5.1.1).\n\nZkontrolujte prosím adresu a odešlete zprávu znovu."),
        ("statuspage", "Vyřešeno: mezi {t1} a {t2} se části zákazníků nedařilo přihlásit. Problém je odstraněn, nemusíte nic dělat."),
        ("support", "Dobrý den,\n\nděkujeme za zprávu. Pošlete nám prosím číslo objednávky a my vše prověříme. Své heslo nikdy nikomu nesdělujte.\n\nS pozdravem\n{agent}"),
        ("errorpage", "Služba je dočasně nedostupná. Zkuste to prosím později."),
        ("crashdialog", "Aplikace {app} byla neočekávaně ukončena. Chcete odeslat hlášení o chybě vývojáři?"),
        ("chat", "0: můžeš restartovat worker na {host}?\n1: jasně, dělám\n1: hotovo, fronta se zpracovává"),
        ("notifymail", "Nové přihlášení k vašemu účtu {product} ze zařízení {device}. Pokud jste to byli vy, nemusíte nic dělat. Pokud ne, změňte si prosím heslo."),
    ],
}
ML_LANGS = list(ML.keys())

FAMILIES = ["bounce", "statuspage", "support", "errorpage", "notifymail", "clihelp", "chat",
            "llmapp", "i18n", "legal", "crashdialog"]

# --------------------------------------------------------------------------
# per-family builders (plain text); each returns (text, meta) where meta may
# carry a subject line or chat messages for the carriers
# --------------------------------------------------------------------------


def b_bounce(m):
    t = fill(pick(BOUNCE), m)
    if "\n" in t and chance(0.3):
        t += "\n\n" + fill(pick(BOUNCE_MACHINE), m)
    if "\n" in t and chance(0.25):
        orig = ("------ This is a copy of the message, including all the headers. ------\n\n"
                "Return-path: <{sender}>\nReceived: from [{ip}] by {mx} with esmtpsa id {qid}\n"
                "Date: {date}\nFrom: {fullname} <{sender}>\nTo: <{rcpt}>\nSubject: {subject_line}\n"
                "Message-ID: {msgid}\n\n") + pick(ORIG_BODIES)
        t += "\n\n" + fill(orig, m)
    return t, {"subject": pick(["Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
                                "Mail delivery failed: returning message to sender", "Undeliverable: " + slot("subject_line", m),
                                "Warning: message {qid} delayed {hours} hours".replace("{qid}", slot("qid", m)).replace("{hours}", slot("hours", m)),
                                "Delivery Status Notification (Delay)"]),
               "from": "MAILER-DAEMON@" + slot("mx", m)}


STATUS_STAGES = [("Investigating", STATUS_INVESTIGATING), ("Identified", STATUS_IDENTIFIED),
                 ("Monitoring", STATUS_MONITORING), ("Resolved", STATUS_RESOLVED)]


def b_statuspage(m):
    title = fill(pick(STATUS_TITLES), m)
    r = R.random()
    if r < 0.35:
        t = fill(pick(STATUS_STANDALONE), m)
        status = "scheduled" if "maintenance" in t.lower() else "update"
    elif r < 0.65:
        name, pool = pick(STATUS_STAGES)
        t = "%s - %s" % (name, fill(pick(pool), m))
        status = name.lower()
    else:
        k = R.randint(2, 4)
        d = _dt(m)
        parts = []
        for i, (name, pool) in enumerate(STATUS_STAGES[:k]):
            dd = d + timedelta(minutes=25 * i + R.randint(0, 20))
            parts.append("%s - %s\n%s %d, %02d:%02d UTC" % (name, fill(pick(pool), m), MON3[dd.month - 1], dd.day, dd.hour, dd.minute))
        parts.reverse()
        t = title + "\n\n" + "\n\n".join(parts)
        status = STATUS_STAGES[k - 1][0].lower()
    return t, {"subject": "[%s] %s" % (slot("product", m), title), "from": "noreply@status.example.com",
               "title": title, "status": status}


def b_support(m):
    r = R.random()
    if r < 0.12:
        k = R.randint(3, len(SUPPORT_CHAT))
        lines = []
        d = _dt(m)
        for i, (who, txt) in enumerate(SUPPORT_CHAT[:k]):
            dd = d + timedelta(seconds=40 * i + R.randint(0, 30))
            nm = slot("agent", m) if who == "agent" else slot("cname", m)
            lines.append("[%02d:%02d:%02d] %s: %s" % (dd.hour, dd.minute, dd.second, nm, fill(txt, m)))
        t = "Chat transcript (%s)\n" % slot("conv_id", m) + "\n".join(lines)
    else:
        t = fill(pick(SUPPORT), m)
        if chance(0.2):
            t = ZD_FOOTER + "\n\n" + t
    return t, {"subject": "[%s] Re: %s" % (slot("ticket_id", m), pick(["Where is my order?", "Can't log in", "Refund request",
                                                                       "Invoice address", "App crashes", "Cancel my plan",
                                                                       "Charged twice"])),
               "from": "support@" + slot("domain", m)}


def b_errorpage(m):
    t = fill(pick(ERRORPAGE), m)
    if "<" not in t and "{" not in t and chance(0.25):
        lines = t.split("\n")
        title = lines[0].strip()
        body = " ".join(x.strip() for x in lines[1:] if x.strip()) or title
        t = fill(ERRORPAGE_HTML_WRAP.replace("{title}", title).replace("{body}", body), m)
    return t, {"subject": "Uptime alert: https://%s returned an error page" % slot("domain", m)}


def b_notifymail(m):
    subj, body = pick(NOTIFY)
    subj, body = fill(subj, m), fill(body, m)
    if chance(0.4):
        body += fill(pick(NOTIFY_FOOTERS), m)
    if chance(0.3):
        body = "Subject: %s\n\n%s" % (subj, body)
    return body, {"subject": subj, "from": "%s <no-reply@%s>" % (slot("product", m), slot("domain", m))}


def b_clihelp(m):
    t = fill(pick(CLIHELP), m)
    if chance(0.35):
        t = "$ " + fill(pick(CLI_CMDS), m) + "\n" + t
    return t, {}


def chat_thread(m):
    th = pick(CHAT_THREADS)
    msgs = [(sp, fill(tx, m)) for sp, tx in th]
    extra = R.randint(0, 4) if chance(0.5) else 0
    for _ in range(extra):
        pos = R.randint(0, len(msgs))
        msgs.insert(pos, (R.randint(0, 3), fill(pick(CHAT_LINES), m)))
    if chance(0.25):
        th2 = pick(CHAT_THREADS)
        msgs += [(sp + 1, fill(tx, m)) for sp, tx in th2]
    return msgs


def speakers(m, n=4):
    out = []
    while len(out) < n:
        s = pick(FIRST).lower() + pick(SPEAKER_SUFFIX)
        if s not in out:
            out.append(s)
    return out


def b_chat(m):
    return None, {"chat": chat_thread(m)}


def b_llmapp(m):
    if chance(0.3):
        k = R.randint(2, 4)
        lines = []
        d = _dt(m)
        for i in range(k):
            dd = d + timedelta(milliseconds=R.randint(50, 4000) * (i + 1))
            lines.append("%s %s %s" % (fmt_iso(dd), pick(["INFO ", "WARN ", "ERROR"]), fill(pick(LLMAPP), {k2: v for k2, v in m.items() if not k2.startswith("_")} | {"_dt": dd})))
        t = "\n".join(lines)
    else:
        t = fill(pick(LLMAPP), m)
        if chance(0.3) and "\n" not in t:
            t = fill(pick(LLMAPP_LOGPREFIX), m) + t
    return t, {}


def i18n_bundle(m):
    n = R.randint(2, 16)
    ents = R.sample(I18N_ENTRIES, n)
    fmt = pick(["json", "properties", "po", "android", "ios", "ftl", "yaml"])
    if fmt == "json":
        t = json.dumps({k: v for k, v in ents}, ensure_ascii=False, indent=2)
        t = "// locales/en/%s.json\n" % pick(["errors", "common", "a11y", "checkout"]) + t
    elif fmt == "properties":
        t = "# messages_en.properties\n" + "\n".join("%s=%s" % (k, v) for k, v in ents)
    elif fmt == "po":
        blocks = ['msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: %s\\n"' % pick(LOCALES)]
        for k, v in ents:
            blocks.append('#: src/components/%s.tsx:%d\nmsgctxt "%s"\nmsgid "%s"\nmsgstr ""' % (
                pick(["Form", "Checkout", "Dialog", "Upload", "Login"]), R.randint(10, 300), k, v.replace('"', '\\"')))
        t = "\n\n".join(blocks)
    elif fmt == "android":
        t = '<?xml version="1.0" encoding="utf-8"?>\n<resources>\n' + "\n".join(
            '    <string name="%s">%s</string>' % (k.replace(".", "_"), v.replace("'", "\\'")) for k, v in ents) + "\n</resources>"
    elif fmt == "ios":
        t = "/* Localizable.strings (en) */\n" + "\n".join('"%s" = "%s";' % (k, v.replace('"', '\\"')) for k, v in ents)
    elif fmt == "ftl":
        t = "## errors.ftl\n" + "\n".join("%s = %s" % (k.replace(".", "-").replace("_", "-"), v) for k, v in ents)
    else:
        t = "en:\n" + "\n".join('  %s: "%s"' % (k, v.replace('"', '\\"')) for k, v in ents)
    return t


def b_i18n(m):
    if chance(0.55):
        t = i18n_bundle(m)
        if chance(0.3):
            t = "%s: %s\n" % (pick(["i18n-lint", "formatjs extract", "lingui compile", "translations check"]),
                              pick(["2 problems found", "1 warning", "bundle updated", "3 keys changed"])) + t
    else:
        k, v = pick(I18N_ENTRIES)
        t = pick(I18N_LOGS).replace("{key}", k).replace("{locale}", pick(LOCALES)).replace("{text}", v)
        t = fill(t, m)
        if chance(0.4):
            k2, v2 = pick(I18N_ENTRIES)
            t += "\n" + pick(I18N_LOGS[:3]).replace("{key}", k2).replace("{locale}", pick(LOCALES)).replace("{text}", v2)
    return t, {}


def b_legal(m):
    t = fill(pick(LEGAL), m)
    if chance(0.15) and not t.startswith(("This e-mail", "CONFIDENTIALITY")):
        t += "\n\n" + fill(pick([LEGAL[4], LEGAL[12]]), m)
    return t, {"subject": pick(["Privacy notice", "Your data request {dsr_id}", "Retention notice",
                                "Important information about your account", "Legal hold notification"]).replace("{dsr_id}", slot("dsr_id", m)),
               "from": "privacy@" + slot("domain", m)}


def b_crashdialog(m):
    t = fill(pick(CRASH), m)
    return t, {"feedback": pick(CRASH_FEEDBACK)}


BUILDERS = {"bounce": b_bounce, "statuspage": b_statuspage, "support": b_support, "errorpage": b_errorpage,
            "notifymail": b_notifymail, "clihelp": b_clihelp, "chat": b_chat, "llmapp": b_llmapp,
            "i18n": b_i18n, "legal": b_legal, "crashdialog": b_crashdialog}

# --------------------------------------------------------------------------
# carriers
# --------------------------------------------------------------------------

META = {
    "bounce": dict(svc=["mailer", "outbound-mail", "notifications", "crm-sync"], msg=["bounce received", "delivery failed", "DSN parsed", "message deferred"],
                   field=["dsn_body", "diagnostic", "bounce_text"], ev=["email.bounced", "message.bounce", "delivery.failed"],
                   exc=[("SMTPRecipientsRefused", "recipient refused by remote server"), ("BounceReceived", "hard bounce for outbound message")],
                   prog=["postfix/bounce", "postfix/smtp", "exim", "postfix/cleanup"]),
    "statuspage": dict(svc=["statuspage-sync", "incident-bot", "comms"], msg=["incident update published", "subscriber notification sent", "maintenance notice queued"],
                       field=["body", "update_text"], ev=["incident.updated", "incident.resolved", "maintenance.scheduled"],
                       exc=[("NotificationError", "failed to deliver subscriber notification")], prog=["incident-bot", "statuspage-sync"]),
    "support": dict(svc=["helpdesk", "support-macros", "helpdesk-sync"], msg=["macro applied", "comment added", "auto-reply sent"],
                    field=["body", "comment", "macro_text"], ev=["ticket.comment_added", "ticket.updated", "conversation.reply"],
                    exc=[("HelpdeskAPIError", "comment could not be posted: 422")], prog=["helpdesk-sync"]),
    "errorpage": dict(svc=["edge-proxy", "web", "api-gateway", "storefront", "uptime-checker"], msg=["upstream returned error page", "client error response", "served maintenance page", "synthetic check failed"],
                      field=["response_body", "body", "error_page"], ev=["http.error", "synthetic.check_failed", "uptime.alert"],
                      exc=[("HTTPError", "503 Server Error: Service Unavailable"), ("ApiError", "request failed with status 429"), ("ClientResponseError", "403, message='Forbidden'")],
                      prog=["uptime-checker", "haproxy", "edge-proxy"]),
    "notifymail": dict(svc=["mailer", "notifications", "transactional-email"], msg=["email rendered", "email send failed", "message deferred", "template rendered"],
                       field=["rendered_body", "body_text", "preview"], ev=["email.sent", "email.delivered", "message.deferred"],
                       exc=[("SMTPDataError", "451 4.3.0 Temporary failure, please retry"), ("TemplateError", "failed to send notification")],
                       prog=["mailer", "notify-worker"]),
    "clihelp": dict(svc=["ci-runner", "deploy-job", "installer", "provisioner"], msg=["command failed", "installer output", "step failed"],
                    field=["stderr", "output"], ev=["job.failed", "check_run.completed"],
                    exc=[("CalledProcessError", "Command returned non-zero exit status 2.")], prog=["cloud-init", "deploy-agent", "provisioner"]),
    "chat": dict(svc=["slack-archiver", "chatops"], msg=["message archived"], field=["text"], ev=["message.posted"],
                 exc=[("ChatOpsError", "command failed")], prog=["chatops"]),
    "llmapp": dict(svc=["assistant-api", "llm-gateway", "support-bot", "eval-runner"], msg=["llm call failed", "prompt render failed", "completion ok", "eval finished", "moderation result"],
                   field=["detail", "error", "output"], ev=["llm.error", "eval.completed", "moderation.flagged"],
                   exc=[("TemplateRenderError", "prompt template could not be rendered"), ("ToolCallValidationError", "invalid tool arguments"), ("BadRequestError", "Error code: 400")],
                   prog=["support-bot", "llm-gateway"]),
    "i18n": dict(svc=["web-frontend", "i18n-lint", "translations-sync"], msg=["missing translation", "bundle validation failed", "locale fallback"],
                 field=["value", "bundle", "detail"], ev=["translations.updated", "locale.sync_failed"],
                 exc=[("MissingTranslationError", "missing message for locale")], prog=["web-frontend"]),
    "legal": dict(svc=["privacy-ops", "dsr-worker", "retention-job", "compliance"], msg=["notice generated", "export ready", "retention run finished", "legal hold applied"],
                  field=["notice", "text", "detail"], ev=["dsr.completed", "retention.scheduled", "legal_hold.created"],
                  exc=[("DSRWorkflowError", "notice could not be delivered")], prog=["retention-job", "dsr-worker"]),
    "crashdialog": dict(svc=["crash-reporter", "mobile-app", "game-client"], msg=["crash dialog shown", "user feedback received", "fatal error"],
                        field=["dialog_text", "user_message", "text"], ev=["crash.reported", "feedback.created"],
                        exc=[("NSInternalInconsistencyException", "Invalid update: invalid number of rows in section 0"),
                             ("java.lang.IllegalStateException", "Fragment not attached to a context."),
                             ("EXCEPTION_ACCESS_VIOLATION_READ", "0x0000000000000018")],
                        prog=["crashpad_handler", "game-client"]),
}


def jdump(o, indent=None):
    return json.dumps(o, ensure_ascii=False, indent=indent)


def c_jsonlog(text, fam, m, meta):
    M = META[fam]
    o = {"ts": fmt_iso(_dt(m)), "level": pick(["info", "warn", "error"]), "service": pick(M["svc"]),
         "msg": pick(M["msg"])}
    if fam == "notifymail":
        o["template"] = pick(["password_reset", "new_login", "billing_failed", "trial_ending", "receipt", "generic"])
        o["to"] = slot("email", m)
    if fam == "bounce":
        o["recipient"] = slot("rcpt", m)
        o["smtp_code"] = pick([550, 552, 421, 451, 554])
    o[pick(M["field"])] = text
    o["request_id"] = slot("req_id", m)
    if chance(0.4):
        o["env"] = pick(["production", "prod-eu", "prod"])
    return jdump(o)


def c_webhook(text, fam, m, meta):
    M = META[fam]
    if fam == "statuspage":
        o = {"meta": {"unsubscribe": "https://status.example.com/unsubscribe/%s" % slot("token", m),
                      "documentation": "https://docs.example.com/webhooks"},
             "page": {"id": alnum(12).lower(), "status_indicator": pick(["minor", "major", "none"])},
             "incident": {"name": meta.get("title", "Service update"), "status": meta.get("status", "update"),
                          "id": alnum(12).lower(), "incident_updates": [{"body": text, "status": meta.get("status", "update"),
                                                                       "created_at": fmt_iso(_dt(m))}]}}
    else:
        obj = {"id": pick(["msg_", "obj_", "tkt_", "evt_"]) + alnum(14)}
        if fam in ("bounce", "notifymail"):
            obj["recipient"] = slot("rcpt", m)
            obj["subject"] = meta.get("subject", "")
        obj[pick(M["field"])] = text
        o = {"id": "evt_" + alnum(18), "type": pick(M["ev"]), "created": int((_dt(m) - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()),
             "livemode": chance(0.8), "data": {"object": obj}}
    return jdump(o, indent=pick([None, 2]))


def c_syslog(text, fam, m, meta):
    M = META[fam]
    d = _dt(m)
    host = pick(["mail01", "app-3", "web-2", "ops-bastion", "worker-7", "edge-1"])
    prog = pick(M["prog"])
    pid = slot("pid", m)
    head = "%s %2d %02d:%02d:%02d %s %s[%s]: " % (MON3[d.month - 1], d.day, d.hour, d.minute, d.second, host, prog, pid)
    if chance(0.5):
        return "<%d>" % pick([22, 19, 14, 134, 30]) + head + text.replace("\n", "#012")
    lines = [x for x in text.split("\n")]
    return "\n".join(head + x for x in lines)


def c_email(text, fam, m, meta):
    frm = meta.get("from") or "%s <%s>" % (slot("fullname", m), slot("sender", m))
    to = slot("rcpt", m) if fam != "bounce" else slot("sender", m)
    subj = meta.get("subject") or text.strip().split("\n")[0][:70]
    h = ["Return-Path: <%s>" % ("" if fam == "bounce" else "bounces+" + hexid(8) + "@" + slot("domain", m)),
         "Received: from %s (%s [%s])\n\tby %s (Postfix) with ESMTPS id %s\n\tfor <%s>; %s" % (
             slot("mx", m), slot("mx", m), slot("ip", m), slot("rmx", m), slot("qid", m), to, slot("date", m)),
         "Date: %s" % slot("date", m), "From: %s" % frm, "To: <%s>" % to, "Subject: %s" % subj,
         "Message-ID: %s" % slot("msgid", m), "MIME-Version: 1.0"]
    if fam == "bounce":
        h.append("Auto-Submitted: auto-replied")
        h.append('Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="%s.%s/%s"' % (slot("qid", m), digits(10), slot("mx", m)))
        body = ("This is a MIME-encapsulated message.\n\n--%s.%s/%s\nContent-Description: Notification\n"
                "Content-Type: text/plain; charset=utf-8\n\n" % (m["qid"], digits(10), m["mx"])) + text
    else:
        if fam in ("notifymail", "statuspage", "legal"):
            h.append("List-Unsubscribe: <https://%s/unsubscribe/%s>" % (slot("domain", m), slot("token", m)))
            h.append("Auto-Submitted: auto-generated")
        h.append("Content-Type: text/plain; charset=utf-8")
        h.append("Content-Transfer-Encoding: 8bit")
        body = text
        if body.startswith("Subject: "):
            body = body.split("\n\n", 1)[1]
    return "\n".join(h) + "\n\n" + body


def c_sentry(text, fam, m, meta):
    M = META[fam]
    et, ev = pick(M["exc"])
    o = {"event_id": hexid(32), "timestamp": fmt_iso(_dt(m)), "platform": pick(["python", "node", "java", "cocoa", "native", "ruby"]),
         "level": pick(["error", "warning", "fatal"]), "logger": pick(M["svc"]), "environment": "production",
         "release": "%s@%s" % (pick(M["svc"]), slot("ver1", m)),
         "exception": {"values": [{"type": et, "value": ev}]},
         "tags": {"service": pick(M["svc"])},
         "extra": {pick(M["field"]): text}}
    if fam == "crashdialog":
        o["tags"]["device"] = pick(["iPhone15,3", "Pixel 7", "SM-S911B", "Windows 11", "Steam Deck"])
        o["user_feedback"] = {"name": slot("name", m), "comments": meta.get("feedback", "")}
    if chance(0.5):
        o["request"] = {"url": "https://%s/%s" % (slot("domain", m), pick(["checkout", "api/v2/orders", "login", "export", "chat"])),
                        "method": pick(["GET", "POST"])}
    return jdump(o, indent=pick([None, 2, 2]))


CI_CMDS = {"errorpage": ["curl -fsS https://{domain}/healthz", "npx playwright test e2e/checkout.spec.ts", "./scripts/smoke.sh {env}"],
           "clihelp": ["{tool} deploy --env {env}", "./install.sh --prefix /opt/{tool}", "make release"],
           "llmapp": ["python -m evals.run --suite helpdesk", "pytest tests/test_prompts.py -q", "npm run eval"],
           "i18n": ["npm run i18n:check", "pnpm lingui extract", "python manage.py compilemessages"],
           "notifymail": ["pytest tests/test_emails.py -q", "bundle exec rspec spec/mailers", "npm test -- mailers"],
           }


def c_ci(text, fam, m, meta):
    cmd = fill(pick(CI_CMDS.get(fam, ["./scripts/check.sh", "make test"])), m)
    d = _dt(m)
    style = pick(["gha", "gitlab", "jenkins"])
    lines = text.split("\n")
    if style == "gha":
        out = []
        dd = d
        out.append("%s ##[group]Run %s" % (fmt_iso(dd)[:-1] + "0000Z", cmd))
        out.append("%s %s" % (fmt_iso(dd)[:-1] + "0000Z", cmd))
        out.append("%s shell: /usr/bin/bash -e {0}" % (fmt_iso(dd)[:-1] + "0000Z"))
        out.append("%s ##[endgroup]" % (fmt_iso(dd)[:-1] + "0000Z"))
        for x in lines:
            dd = dd + timedelta(milliseconds=R.randint(1, 400))
            out.append("%s %s" % (fmt_iso(dd)[:-1] + "0000Z", x))
        out.append("%s ##[error]Process completed with exit code %d." % (fmt_iso(dd)[:-1] + "0000Z", pick([1, 1, 2, 127])))
        return "\n".join(out)
    if style == "gitlab":
        return ("Running with gitlab-runner 17.%d.0 (%s)\n  on runner-%s %s\n$ %s\n" % (R.randint(0, 6), hexid(8), digits(3), hexid(8), cmd)
                + text + "\nERROR: Job failed: exit code 1")
    return ("[Pipeline] stage\n[Pipeline] { (Test)\n[Pipeline] sh\n+ %s\n" % cmd + text +
            "\n[Pipeline] }\n[Pipeline] // stage\nERROR: script returned exit code 1\nFinished: FAILURE")


def c_k8s(text, fam, m, meta):
    d = _dt(m)
    pod = "%s-%s-%s" % (pick(META[fam]["svc"]), hexid(10), alnum(5).lower())
    out = ["$ kubectl logs %s -n %s --timestamps" % (pod, pick(["prod", "default", "apps", "llm"]))] if chance(0.4) else []
    for x in text.split("\n"):
        d = d + timedelta(milliseconds=R.randint(0, 90))
        out.append("%s %s" % (fmt_iso(d)[:-1] + "123Z", x))
    return "\n".join(out)


def c_ticket(text, fam, m, meta):
    subj = meta.get("subject") or text.strip().split("\n")[0][:80]
    if chance(0.5):
        o = {"ticket": {"id": int(digits(6)), "subject": subj, "status": pick(["open", "pending", "solved", "new"]),
                        "priority": pick(["normal", "high", "low"]), "requester": {"email": slot("email", m)},
                        "via": {"channel": pick(["email", "web", "api", "chat"])},
                        "comments": [{"author": slot("fullname", m), "public": chance(0.7), "created_at": fmt_iso(_dt(m)),
                                      "body": text}]}}
        if fam == "crashdialog":
            o["ticket"]["comments"].insert(0, {"author": slot("fullname", m), "public": True, "created_at": fmt_iso(_dt(m)),
                                               "body": meta.get("feedback", "the app crashed")})
        return jdump(o, indent=pick([None, 2]))
    key = "%s-%d" % (pick(["OPS", "SUP", "PLAT", "MOB", "WEB", "PRIV"]), R.randint(100, 9999))
    return ("%s | %s\nStatus: %s    Priority: %s    Reporter: %s\n\nComment by %s (%s):\n%s" % (
        key, subj, pick(["Open", "In Progress", "Waiting for customer"]), pick(["P2", "P3", "Medium", "High"]),
        slot("fullname", m), slot("fullname2", m), slot("ts", m), text))


def slack_msgs(msgs, m, bot=None):
    d = _dt(m)
    names = speakers(m)
    ids = ["U0" + alnum(9).upper() for _ in names]
    out = []
    for sp, tx in msgs:
        d = d + timedelta(seconds=R.randint(5, 240))
        ts = "%d.%06d" % (int((d - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()), R.randint(0, 999999))
        if sp == "bot":
            out.append({"type": "message", "subtype": "bot_message", "username": bot, "bot_id": "B0" + alnum(9).upper(),
                        "text": tx, "ts": ts})
        else:
            out.append({"type": "message", "user": ids[sp % len(ids)], "user_name": names[sp % len(names)], "text": tx, "ts": ts})
    return out


def teams_msgs(msgs, m, bot=None):
    d = _dt(m)
    names = [n.split(".")[0].split("_")[0].split("-")[0].capitalize() + " " + pick(LAST) for n in speakers(m)]
    out = []
    for sp, tx in msgs:
        d = d + timedelta(seconds=R.randint(5, 240))
        frm = {"application": {"displayName": bot}} if sp == "bot" else {"user": {"displayName": names[sp % len(names)], "id": "%s-%s" % (hexid(8), hexid(4))}}
        out.append({"id": digits(13), "messageType": "message", "createdDateTime": fmt_iso(d), "from": frm,
                    "body": {"contentType": "text", "content": tx}})
    return out


def human_around(m):
    pre = [(0, pick(["can someone look at this?", "this came in just now", "fyi", "is this related to the deploy?",
                     "seeing this again", "forwarding from the shared inbox"]))]
    post = [(1, pick(["on it", "looking", "ack, I'll take it", "known issue, see the incident channel", "thanks, checking"]))]
    return pre, post


def c_slack(text, fam, m, meta):
    bot = pick(["statuspage", "Sentry", "mail-alerts", "helpdesk", "ci-bot", "uptime"])
    msgs = [("bot", text)]
    if chance(0.6):
        pre, post = human_around(m)
        msgs = pre + msgs + post
    return jdump(slack_msgs(msgs, m, bot), indent=pick([None, 2]))


def c_teams(text, fam, m, meta):
    bot = pick(["Status Updates", "Alerts", "Helpdesk", "Pipelines"])
    msgs = [("bot", text)]
    if chance(0.5):
        pre, post = human_around(m)
        msgs = pre + msgs + post
    return jdump({"@odata.context": "https://graph.example.com/v1.0/$metadata#chats('19%3A" + hexid(16) + "')/messages",
                  "value": teams_msgs(msgs, m, bot)}, indent=pick([None, 2]))


CARRIERS = {"jsonlog": c_jsonlog, "webhook": c_webhook, "syslog": c_syslog, "email": c_email, "sentry": c_sentry,
            "ci": c_ci, "k8s": c_k8s, "ticket": c_ticket, "slack": c_slack, "teams": c_teams}

FAM_CARRIERS = {
    "bounce": ["email", "email", "email", "jsonlog", "webhook", "syslog", "syslog", "ticket", "sentry", "slack"],
    "statuspage": ["webhook", "webhook", "email", "email", "slack", "teams", "jsonlog"],
    "support": ["ticket", "ticket", "ticket", "webhook", "email", "jsonlog", "slack"],
    "errorpage": ["jsonlog", "jsonlog", "sentry", "sentry", "ci", "ticket", "k8s", "slack"],
    "notifymail": ["jsonlog", "jsonlog", "webhook", "email", "email", "sentry", "ci"],
    "clihelp": ["ci", "ci", "ci", "k8s", "jsonlog", "ticket", "slack", "syslog"],
    "llmapp": ["jsonlog", "jsonlog", "sentry", "sentry", "k8s", "ci", "syslog", "slack"],
    "i18n": ["ci", "ci", "jsonlog", "sentry", "ticket", "k8s"],
    "legal": ["jsonlog", "jsonlog", "email", "email", "webhook", "syslog", "ticket"],
    "crashdialog": ["sentry", "sentry", "sentry", "jsonlog", "ticket", "webhook"],
}


def render_chat(msgs, m, carrier):
    """carrier: plain | slack | teams | ticket"""
    names = speakers(m)
    d = _dt(m)
    if carrier == "slack":
        return jdump(slack_msgs(msgs, m), indent=pick([None, 2]))
    if carrier == "teams":
        return jdump({"value": teams_msgs(msgs, m)}, indent=pick([None, 2]))
    if carrier == "ticket":
        key = "%s-%d" % (pick(["OPS", "INC", "PLAT", "PAY"]), R.randint(100, 9999))
        parts = ["%s | %s" % (key, pick(["Checkout errors after deploy", "Worker stuck", "Elevated 5xx", "Nightly job failed", "Release %s" % slot("ver1", m)]))]
        for sp, tx in msgs:
            d = d + timedelta(seconds=R.randint(20, 600))
            parts.append("%s commented (%s):\n%s" % (names[sp % len(names)], fmt_iso(d, ms=False), tx))
        return "\n\n".join(parts)
    style = pick(["brackets", "irc", "export"])
    out = []
    if style == "export":
        out.append("#%s  (exported %s)" % (slot("chan", m), fmt_iso(d, ms=False)))
    for sp, tx in msgs:
        d = d + timedelta(seconds=R.randint(5, 240))
        if style == "brackets" or style == "export":
            out.append("[%02d:%02d] %s: %s" % (d.hour, d.minute, names[sp % len(names)], tx))
        else:
            out.append("%02d:%02d:%02d <%s> %s" % (d.hour, d.minute, d.second, names[sp % len(names)], tx))
    return "\n".join(out)


# --------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------

MIN_B, MAX_B = 80, 3000


def blen(s):
    return len(s.encode("utf-8"))


def make_row(fam, lang=None, ml_tpl=None):
    """Returns (text, carrier_name)."""
    m = {}
    embed = chance(0.5)
    if fam == "chat":
        if ml_tpl is not None:
            msgs = []
            for line in fill(ml_tpl, m).split("\n"):
                sp, tx = line.split(": ", 1)
                msgs.append((int(sp), tx))
        else:
            msgs = chat_thread(m)
        carrier = pick(["slack", "slack", "teams", "ticket"]) if embed else "plain"
        return render_chat(msgs, m, carrier), carrier
    if ml_tpl is not None:
        text = fill(ml_tpl, m)
        meta = {}
        if fam == "bounce":
            meta = {"subject": pick(["Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)"]),
                    "from": "MAILER-DAEMON@" + slot("mx", m)}
        if fam == "crashdialog":
            meta = {"feedback": pick(CRASH_FEEDBACK)}
    else:
        text, meta = BUILDERS[fam](m)
    if blen(text) < MIN_B:
        embed = True
    if not embed:
        return text, "plain"
    cname = pick(FAM_CARRIERS[fam])
    return CARRIERS[cname](text, fam, m, meta), cname


def template_counts():
    en = {"bounce": len(BOUNCE) + len(BOUNCE_MACHINE), "statuspage": len(STATUS_INVESTIGATING) + len(STATUS_IDENTIFIED) + len(STATUS_MONITORING) + len(STATUS_RESOLVED) + len(STATUS_STANDALONE),
          "support": len(SUPPORT) + 1, "errorpage": len(ERRORPAGE), "notifymail": len(NOTIFY), "clihelp": len(CLIHELP),
          "chat": len(CHAT_THREADS) + len(CHAT_LINES), "llmapp": len(LLMAPP), "i18n": len(I18N_ENTRIES) + len(I18N_LOGS),
          "legal": len(LEGAL), "crashdialog": len(CRASH)}
    ml = {f: 0 for f in FAMILIES}
    for lang in ML_LANGS:
        for f, _ in ML[lang]:
            ml[f] += 1
    return en, ml


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = Path(__file__).resolve().parents[3]
    ap.add_argument("--out", default=str(root / "crates/injection-filter/data/train/opsprose.jsonl"))
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--stats", action="store_true", help="print counts to stderr")
    a = ap.parse_args()
    R.seed(a.seed)

    n_ml = a.n // 5
    n_en = a.n - n_ml
    plan = []
    base, rem = divmod(n_en, len(FAMILIES))
    for i, f in enumerate(FAMILIES):
        plan += [(f, None)] * (base + (1 if i < rem else 0))
    for i in range(n_ml):
        plan.append((None, ML_LANGS[i % len(ML_LANGS)]))

    seen = {}
    rows = []
    stats = {}
    for fam, lang in plan:
        for attempt in range(200):
            if lang is not None:
                f, tpl = pick(ML[lang])
                text, carrier = make_row(f, lang, tpl)
            else:
                f = fam
                text, carrier = make_row(f)
            if MIN_B <= blen(text) <= MAX_B and text not in seen:
                break
        else:
            raise SystemExit("could not make a row for %s/%s" % (fam, lang))
        seen[text] = True
        kind = "benign-multilingual" if lang is not None else "benign-hard"
        rows.append({"text": text, "label": 0, "kind": kind, "source": "faultline-generated/opsprose/" + f})
        key = (kind, f)
        stats[key] = stats.get(key, 0) + 1
        stats[("carrier", carrier)] = stats.get(("carrier", carrier), 0) + 1
        if lang is not None:
            stats[("lang", lang)] = stats.get(("lang", lang), 0) + 1
    R.shuffle(rows)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    if a.stats:
        en, ml = template_counts()
        for k in sorted(stats):
            print("%s\t%s\t%d" % (k[0], k[1], stats[k]), file=sys.stderr)
        for f in FAMILIES:
            print("templates\t%s\ten=%d ml=%d" % (f, en[f], ml[f]), file=sys.stderr)
        lens = sorted(blen(r["text"]) for r in rows)
        print("bytes\tmin=%d p50=%d p90=%d max=%d over2k=%d" % (lens[0], lens[len(lens) // 2], lens[len(lens) * 9 // 10], lens[-1],
                                                                 sum(1 for x in lens if x > 2000)), file=sys.stderr)
        print("unfilled placeholders\t%s" % sorted(UNKNOWN.items()), file=sys.stderr)
    print("wrote %d rows to %s" % (len(rows), out))


if __name__ == "__main__":
    main()
