"""A small knowledge base of a shop's help articles, and the questions each should answer first.

Used by the search relevance tests (tests/domain/test_knowledge_search.py), the REST and help
centre tests, and the browser tests of the widget and the console.
"""

from __future__ import annotations

from typing import Any

CATEGORIES = [
    {"slug": "returns", "name": "Returns and refunds", "position": 1},
    {"slug": "shipping", "name": "Shipping and delivery", "position": 2},
    {"slug": "payment", "name": "Payment", "position": 3},
    {"slug": "account", "name": "Your account and orders", "position": 4},
]

# (key, category slug, title, Markdown body, tags)
ARTICLES: list[tuple[str, str, str, str, list[str]]] = [
    ("refund", "returns", "How do I get a refund?",
     "Refunds are paid back to the card or account you paid with, within **5 business days** after the "
     "returned items reach our warehouse. You get an email when the money is on its way.", ["refund", "returns"]),
    ("return", "returns", "Returning an item",
     "You can send any item back within 30 days. Print the return label from *My orders*, pack the item in "
     "its original box and drop it at any post office.", ["returns"]),
    ("shipping-cost", "shipping", "Shipping costs and delivery times",
     "Standard shipping is free above 50 EUR and takes 2-4 working days. Express delivery costs 9.90 EUR "
     "and arrives the next working day.", ["shipping", "delivery"]),
    ("tracking", "shipping", "Tracking your parcel",
     "Once your order leaves the warehouse we email you a tracking number. Follow the link in that email to "
     "see where the parcel is.", ["shipping", "tracking"]),
    ("international", "shipping", "International delivery and customs",
     "We ship to 30 countries. Outside the EU, customs duties and import fees are paid by the recipient when "
     "the parcel arrives.", ["shipping"]),
    ("card", "payment", "Paying by credit card",
     "We accept Visa, Mastercard and American Express. Your card is charged when the order ships, not when "
     "you place it.", ["payment"]),
    ("paypal", "payment", "Paying with PayPal",
     "Choose PayPal at checkout and log in to your PayPal account to approve the purchase.", ["payment"]),
    ("declined", "payment", "Why was my payment declined?",
     "If your bank declines the payment, check the card's expiry date and the billing address, and approve "
     "the 3-D Secure request in your banking app. Then try again.", ["payment"]),
    ("voucher", "payment", "Gift cards and vouchers",
     "Enter the voucher code in the basket before you pay. A gift card can be combined with any other "
     "payment method.", ["payment", "vouchers"]),
    ("cancel", "account", "Changing or cancelling an order",
     "You can cancel an order until it is packed: open *My orders* and press **Cancel**. After that, "
     "return it instead.", ["orders"]),
    ("password", "account", "Resetting your password",
     "Forgot your password? Use the reset link on the sign-in page; we email you a link that is valid for "
     "one hour.", ["account"]),
    ("warranty", "account", "Warranty and repairs",
     "Every product has a two-year warranty. If something breaks, send it in for repair or replacement "
     "free of charge.", ["warranty"]),
]

GERMAN = ("ruckgabe", "returns", "Rückgabe und Erstattung",
          "Sie können Artikel innerhalb von 30 Tagen zurückgeben. Die Erstattung erfolgt auf Ihr Zahlungsmittel.",
          ["returns"], "de")

# A draft: never public, never found.
DRAFT = ("draft", "returns", "Refund secrets", "Internal: the secret refund procedure.", ["refund"])

# (question, the article key that must rank first)
QUESTIONS = [
    ("How do I get a refund?", "refund"),
    ("refund", "refund"),
    ("refunds", "refund"),
    ("refu", "refund"),  # an unfinished word: a prefix
    ("refnud", "refund"),  # a typo: two letters swapped
    ("where is my parcel", "tracking"),
    ("track my order", "tracking"),
    ("how much does shipping cost", "shipping-cost"),
    ("express delivery", "shipping-cost"),
    ("my card was declined", "declined"),
    ("paypal", "paypal"),
    ("pay with paypl", "paypal"),  # a typo: a letter missing
    ("cancel my order", "cancel"),
    ("I forgot my password", "password"),
    ("pasword reset", "password"),  # a typo and a word
    ("voucher code", "voucher"),
    ("customs fees", "international"),
    ("my product broke, repair?", "warranty"),
    ("return label", "return"),
]


def article_payload(entry: tuple[Any, ...], category_ids: dict[str, str], status: str = "published") -> dict[str, Any]:
    _key, category, title, body, tags, *locale = entry
    payload: dict[str, Any] = {"title": title, "body": body, "tags": tags, "category_id": category_ids[category],
                               "status": status}
    if locale:
        payload["locale"] = locale[0]
    return payload


async def seed(server: Any) -> dict[str, str]:
    """Create the categories and every article of the corpus through the admin REST API (the
    German one, and the draft as a draft); returns ``{key: article id}`` plus ``category:<slug>``
    keys for the categories' ids."""
    token = await server.admin_token()
    ids: dict[str, str] = {}
    categories: dict[str, str] = {}
    for category in CATEGORIES:
        status, body = await server.request("POST", "/api/kb/categories", token=token, json=category)
        assert status == 201, body
        categories[category["slug"]] = body["category"]["id"]
        ids[f"category:{category['slug']}"] = body["category"]["id"]
    for entry, state in [*((a, "published") for a in ARTICLES), (GERMAN, "published"), (DRAFT, "draft")]:
        status, body = await server.request("POST", "/api/kb/articles", token=token,
                                            json=article_payload(entry, categories, state))
        assert status == 201, body
        ids[entry[0]] = body["article"]["id"]
    return ids
