"""The demo company's customers: who they are and how they meet the shop (pure, no database).

Names are Italian; e-mails use `.example` domains and phones the unassigned +39 30x mobile
range, so a demo with real e-mail or WhatsApp settings never reaches a real person. Values are
written the way people type them (spaces in phones, capitals in e-mails): normalising them is
part of what the demo shows.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field

FEMALE_NAMES = (
    "Giulia", "Francesca", "Sara", "Chiara", "Martina", "Valentina", "Elena", "Federica",
    "Alessia", "Silvia", "Laura", "Anna", "Paola", "Roberta", "Elisa", "Giorgia", "Marta",
    "Ilaria", "Beatrice", "Camilla", "Sofia", "Aurora", "Caterina", "Noemi", "Arianna",
    "Serena", "Monica", "Cristina", "Barbara", "Lucia",
)  # fmt: skip
MALE_NAMES = (
    "Marco", "Luca", "Andrea", "Matteo", "Alessandro", "Davide", "Simone", "Francesco",
    "Lorenzo", "Federico", "Stefano", "Paolo", "Giovanni", "Riccardo", "Tommaso", "Nicola",
    "Fabio", "Gabriele", "Emanuele", "Pietro", "Roberto", "Daniele", "Michele", "Filippo",
    "Massimo", "Alberto", "Giacomo", "Claudio", "Edoardo", "Leonardo",
)  # fmt: skip
LAST_NAMES = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
    "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi",
    "Caruso", "Ferrara", "Galli", "Martini", "Leone", "Longo", "Gentile", "Martinelli",
    "Vitale", "Lombardo", "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti", "Parisi",
    "Villa", "Conte", "Ferraro", "Ferri", "Fabbri", "Bianco", "Marini", "Grasso", "Valentini",
    "Messina", "Sala", "De Angelis", "Gatti", "Pellegrini", "Palumbo", "Sanna", "Farina",
    "Rizzi", "Monti", "Cattaneo", "Morelli", "Amato", "Silvestri", "Mazza", "Testa",
    "Grassi", "Pellegrino", "Carbone", "Giuliani", "Benedetti", "Barone", "Rossetti",
    "Caputo", "Montanari", "Guerra", "Palmieri", "Bernardi", "Martino", "Fiore", "Brambilla",
    "Pozzi", "Fumagalli", "Bertolini", "Zanetti",
)  # fmt: skip
EMAIL_DOMAINS = (
    ("posta.example", 30),
    ("libero.example", 20),
    ("mail.example", 18),
    ("tiscali.example", 6),
    ("virgilio.example", 8),
    ("icloud.example", 10),
    ("studio.example", 4),
    ("outlook.example", 10),
)
STORE_WEIGHTS = (("MI", 45), ("TO", 30), ("BO", 25))

# How people meet the shop: (web, app, store) and how common each habit is.
HABITS = (
    ((True, False, True), 30),  # browse online, try and buy in the store
    ((True, False, False), 18),  # web only
    ((False, False, True), 24),  # store only
    ((False, True, True), 16),  # app and store
    ((True, True, False), 12),  # web and app
)

REVIEW_PERSON = ("Paolo", "Galli")  # the merge a manager should undo (see tracking/demo/)


@dataclass
class DemoPerson:
    """One demo customer and the channels they use."""

    index: int
    first_name: str
    last_name: str
    email: str | None  # as typed: may have capitals
    phone: str | None  # as typed: spaces, with or without +39
    loyalty_card: str | None
    user_id: str | None  # the web shop / app account, for registered people
    home_store: str
    web: bool
    app: bool
    store: bool
    # Consent asked at the first sign-up: True given, False refused, None never asked.
    consent_email: bool | None = None
    consent_whatsapp: bool | None = None
    web_devices: list[str] = field(default_factory=list)
    app_device: str | None = None
    kiosk: bool = False  # uses the shared kiosk in the Milano store
    review_merge: bool = False  # the person whose e-mail a family tablet used

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _weighted(rng: random.Random, options: tuple[tuple[object, int], ...]) -> object:
    values = [v for v, _ in options]
    weights = [w for _, w in options]
    return rng.choices(values, weights=weights, k=1)[0]


def _email(rng: random.Random, first: str, last: str, taken: set[str]) -> str:
    f, lname = _ascii(first), _ascii(last)
    domain = str(_weighted(rng, EMAIL_DOMAINS))
    local = rng.choice(
        (f"{f}.{lname}", f"{f}.{lname}", f"{f}{lname}", f"{f[0]}.{lname}", f"{f}_{lname}")
    )
    while f"{local}@{domain}" in taken:
        local = f"{local.rstrip('0123456789')}{rng.randint(2, 99)}"
    taken.add(f"{local}@{domain}")
    if rng.random() < 0.15:  # typed with capitals: normalisation makes it one identifier
        local = local.title()
    return f"{local}@{domain}"


def _phone(rng: random.Random, taken: set[str]) -> str:
    while True:
        digits = f"30{rng.randint(0, 9)}{rng.randint(0, 9_999_999):07d}"
        if digits not in taken:
            taken.add(digits)
            break
    style = rng.random()
    if style < 0.4:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if style < 0.7:
        return f"+39 {digits[:3]} {digits[3:]}"
    return digits


def device_id(rng: random.Random) -> str:
    """An analytics.js-style anonymous id (a UUID) from the seeded generator."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def make_people(count: int, rng: random.Random) -> list[DemoPerson]:
    """`count` customers with realistic, unique identifiers; the first one is the person of the
    merge to review, and a few Milano store customers use the shared kiosk."""
    emails: set[str] = set()
    phones: set[str] = set()
    people: list[DemoPerson] = []
    for index in range(count):
        female = rng.random() < 0.5
        first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        last = rng.choice(LAST_NAMES)
        web, app, store = _weighted(rng, HABITS)  # type: ignore[misc]
        home = str(_weighted(rng, STORE_WEIGHTS))
        review = index == 0
        if review:
            (first, last), web, app, store, home = REVIEW_PERSON, True, False, True, "TO"
        online = web or app
        has_email = online or rng.random() < 0.7
        has_phone = review or rng.random() < 0.75
        has_card = store and (review or rng.random() < 0.8)
        if store and not (has_email or has_phone or has_card):
            has_card = True
        registered = app or (web and (review or rng.random() < 0.65))
        person = DemoPerson(
            index=index,
            first_name=first,
            last_name=last,
            email=_email(rng, first, last, emails) if has_email else None,
            phone=_phone(rng, phones) if has_phone else None,
            loyalty_card=f"VB-{1_004_000 + index * 7 + rng.randint(0, 6)}" if has_card else None,
            user_id=f"cust-{100_000 + index * 3 + rng.randint(0, 2)}" if registered else None,
            home_store=home,
            web=web,
            app=app,
            store=store,
            review_merge=review,
        )
        if rng.random() < 0.85:  # asked at sign-up; some say no
            person.consent_email = rng.random() < 0.62 if person.email else None
            person.consent_whatsapp = rng.random() < 0.5 if person.phone else None
        if web:
            person.web_devices = [device_id(rng) for _ in range(2 if rng.random() < 0.2 else 1)]
        if app:
            person.app_device = device_id(rng)
        people.append(person)
    kiosk_users = [p for p in people[1:] if p.store and p.email and p.home_store == "MI"]
    for person in kiosk_users[:5]:
        person.kiosk = True
    return people
