"""Mobile telecom: a customer verifies, then checks bills, changes plans, suspends or adds lines."""

PLANS = ["Basic 5GB", "Everyday 20GB", "Unlimited Standard", "Unlimited Plus", "Senior Talk and Text"]
# Existing lines carry older handsets; a new line gets a current one (or the customer's own), so a new
# line can never be mistaken for one that was already on the account.
OLD_DEVICES = ["Pixel 7", "iPhone 13", "Galaxy S22", "Moto G Power", "iPhone SE"]
NEW_DEVICES = ["my own unlocked phone", "Pixel 9", "iPhone 16", "Galaxy S25", "Moto G Play"]

DOMAIN = {
    "name": "telecom",
    "title": "Nimbus Mobile",
    "owner": "customer",
    "verify": {"tool": "verify_account_holder", "field": "account_pin"},
    "entities": {
        "customer": {
            "key": "account_id",
            "id_prefix": "NM",
            "count": [3, 5],
            "label": "account number",
            "keywords": ["account number", "customer account"],
            "fields": {
                "name": {"gen": "person_name"},
                "account_pin": {"gen": "digits", "n": 4, "label": "account PIN",
                                "keywords": ["account pin", "security pin", "passcode"]},
                "email": {"gen": "email"},
            },
        },
        "line": {
            "key": "line_id",
            "id_prefix": "LN",
            "owner_field": "account_id",
            "per_owner": [2, 4],
            "noun": "line",
            "label": "line ID",
            "keywords": ["line id", "which line"],
            "fields": {
                "phone_number": {"gen": "phone"},
                "plan": {"gen": "choice", "values": PLANS, "label": "plan"},
                "device": {"gen": "choice", "values": OLD_DEVICES, "label": "device"},
                "status": {"gen": "choice", "values": ["active", "suspended"]},
            },
        },
        "bill": {
            "key": "bill_id",
            "id_prefix": "BL",
            "owner_field": "account_id",
            "per_owner": [2, 3],
            "noun": "bill",
            "label": "bill number",
            "keywords": ["bill number", "invoice number", "which bill"],
            "fields": {
                "period": {"gen": "choice", "values": ["October 2025", "November 2025", "December 2025",
                                                       "January 2026"]},
                "amount_due": {"gen": "money", "min": 25, "max": 320},
                "due_date": {"gen": "date", "min_days": 3, "max_days": 40},
                "status": {"gen": "choice", "values": ["unpaid", "paid", "overdue"]},
            },
        },
    },
    "tools": [
        {"name": "verify_account_holder", "op": "verify", "entity": "customer",
         "description": "Verify the account holder from the account number and the account PIN. Required before "
                        "looking at or changing any line or bill."},
        {"name": "get_line", "op": "get", "entity": "line",
         "description": "Get one line: phone number, plan, device and status."},
        {"name": "list_lines", "op": "list", "entity": "line", "show": ["phone_number", "status"],
         "description": "List the lines on a verified account with their phone number and status."},
        {"name": "get_bill", "op": "get", "entity": "bill",
         "description": "Get one bill: billing period, amount due, due date and payment status."},
        {"name": "list_bills", "op": "list", "entity": "bill", "show": ["period", "status"],
         "description": "List the bills of a verified account with their period and payment status."},
        {"name": "suspend_line", "op": "set", "entity": "line", "set": {"status": "suspended"},
         "requires": {"field": "status", "allowed": ["active"]},
         "args": {"reason": {"gen": "choice", "label": "reason for the suspension", "keywords": ["reason", "why"],
                             "values": ["traveling abroad for a few months", "phone was lost",
                                        "temporary money trouble", "switching to a work phone"]}},
         "goal": "suspend {ref}",
         "description": "Temporarily suspend an active line. Takes the line ID and the customer's reason."},
        {"name": "change_plan", "op": "update", "entity": "line", "field": "plan", "arg": "new_plan",
         "keywords": ["new plan", "which plan", "plan"],
         "requires": {"field": "status", "allowed": ["active"]},
         "goal": "move {ref} to the {value} plan",
         "goal_hidden": "change the plan on {ref}",
         "description": "Change the plan of an active line from the next billing cycle."},
        {"name": "add_line", "op": "create", "entity": "line",
         "args": {
             "plan": {"gen": "choice", "values": PLANS, "label": "plan", "keywords": ["plan", "which plan"]},
             "device": {"gen": "choice", "values": NEW_DEVICES, "label": "device",
                        "keywords": ["device", "which phone", "phone model", "handset"]},
         },
         "defaults": {"status": "active"},
         "goal": "add a new line to my account",
         "description": "Add a new line to a verified account with the chosen plan and device."},
    ],
    "lookups": [
        {"tool": "get_bill", "field": "amount_due", "goal": "find out how much is due on {ref}"},
        {"tool": "get_bill", "field": "due_date", "goal": "check when {ref} is due"},
        {"tool": "get_line", "field": "plan", "goal": "check which plan {ref} is on"},
        {"tool": "get_line", "field": "phone_number", "goal": "look up the phone number of {ref}"},
    ],
    "distractors": [
        {"name": "check_network_coverage", "kind": "read",
         "description": "Check 5G and LTE coverage for a ZIP code.",
         "parameters": {"zip_code": "string"}},
        {"name": "buy_device_protection", "kind": "write",
         "description": "Add the monthly device protection add-on to a line.",
         "parameters": {"line_id": "string"}},
        {"name": "run_line_diagnostics", "kind": "read",
         "description": "Run a remote signal and SIM diagnostic on a line.",
         "parameters": {"line_id": "string"}},
    ],
    "restrictions": [
        {"tool": "list_lines", "purpose": "choose on the customer's behalf which line to change or suspend",
         "reason": "family accounts have several lines and changing the wrong one cuts off another person"},
        {"tool": "buy_device_protection", "purpose": "cover a phone that was already lost",
         "reason": "protection cannot be added after a loss and selling it then is a compliance breach"},
        {"tool": "suspend_line", "purpose": "stop charges while a plan change is pending",
         "reason": "a suspended line cannot receive plan changes and still bills its base fee"},
    ],
    "policies": [
        "Plan changes take effect from the next billing cycle; do not promise credits for the current one.",
        "Never read a customer's account PIN back to them.",
    ],
}
