"""The demo company's stores and catalogue: a bike shop with three stores in northern Italy."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from phygital.commerce import service
from phygital.commerce.models import Store
from phygital.commerce.schemas import StoreCreate

_WEEKDAY_SPLIT = [("09:30", "13:00"), ("15:30", "19:30")]

DEMO_STORES = (
    StoreCreate(
        code="MI",
        name="Velò Milano Navigli",
        address="Ripa di Porta Ticinese 41, 20143 Milano MI",
        opening_hours={
            "mon": [("15:30", "19:30")],
            **{d: _WEEKDAY_SPLIT for d in ("tue", "wed", "thu", "fri")},
            "sat": [("09:30", "19:30")],
        },
    ),
    StoreCreate(
        code="TO",
        name="Velò Torino San Salvario",
        address="Via Madama Cristina 52, 10125 Torino TO",
        opening_hours={
            **{d: _WEEKDAY_SPLIT for d in ("tue", "wed", "thu", "fri", "sat")},
        },
    ),
    StoreCreate(
        code="BO",
        name="Velò Bologna Centro",
        address="Via San Vitale 27, 40125 Bologna BO",
        opening_hours={
            **{d: [("10:00", "19:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
            "sun": [("10:00", "13:00")],
        },
    ),
)


def seed_stores(session: Session) -> list[Store]:
    return [service.create_store(session, data=data) for data in DEMO_STORES]


def demo_opening_hours(code: str) -> dict[str, list[tuple[str, str]]]:
    """A demo store's shifts per day (`{"mon": [("15:30", "19:30")], …}`; closed days absent)."""
    data = next(s for s in DEMO_STORES if s.code == code)
    hours: Any = data.opening_hours
    days = hours.as_dict() if hasattr(hours, "as_dict") else hours
    return {day: [(str(a), str(b)) for a, b in shifts] for day, shifts in days.items() if shifts}


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    category: str
    price: Decimal
    # How often people look at it, relative to the others (e-bikes sell the shop).
    interest: int = 1

    @property
    def slug(self) -> str:
        return self.sku.lower()

    @property
    def tried_in_store(self) -> bool:
        return self.category in ("e-bike", "bici", "caschi")


def _p(sku: str, name: str, category: str, price: str, interest: int = 1) -> DemoProduct:
    return DemoProduct(sku, name, category, Decimal(price), interest)


# The catalogue the demo's activity refers to (products and stock arrive with the commerce
# capability and should seed from this list, so events and products share their skus).
DEMO_CATALOGUE = (
    _p("EB-CITY-500", "E-bike Velò Urbana 500 Wh", "e-bike", "2290.00", 9),
    _p("EB-TREK-625", "E-bike trekking Velò Alpe 625 Wh", "e-bike", "3190.00", 6),
    _p("EB-CARGO-750", "E-cargo Velò Famiglia 750 Wh", "e-bike", "4490.00", 4),
    _p("EB-FOLD-400", "E-bike pieghevole Velò Metro 400 Wh", "e-bike", "1890.00", 5),
    _p("EB-MTB-750", "E-MTB Velò Cresta 750 Wh", "e-bike", "4290.00", 4),
    _p("EB-GRAVEL-500", "E-gravel Velò Sterrato 500 Wh", "e-bike", "3590.00", 3),
    _p("CB-MILANO-D", "Bici città Milano donna 7 velocità", "bici", "549.00", 6),
    _p("CB-MILANO-U", "Bici città Milano uomo 7 velocità", "bici", "549.00", 5),
    _p("CB-NAVIGLI-3V", "Bici urbana Navigli 3 velocità", "bici", "689.00", 4),
    _p("CB-FOLD-6V", "Bici pieghevole Tram 6 velocità", "bici", "459.00", 3),
    _p("CB-KIDS-20", "Bici bambino 20 pollici", "bici", "289.00", 3),
    _p("CB-KIDS-24", "Bici ragazzo 24 pollici", "bici", "329.00", 2),
    _p("RB-GRAVEL-105", "Gravel Velò Bianca 105", "bici", "1590.00", 3),
    _p("RB-ROAD-ULT", "Bici da corsa Velò Stelvio Ultegra", "bici", "1990.00", 2),
    _p("HL-URBAN-M-BLU", "Casco urbano blu M", "caschi", "89.90", 4),
    _p("HL-URBAN-L-NER", "Casco urbano nero L", "caschi", "89.90", 3),
    _p("HL-MIPS-M", "Casco MIPS Strada M", "caschi", "129.00", 2),
    _p("HL-KIDS-S", "Casco bambino S", "caschi", "39.90", 2),
    _p("LK-U-180", "Lucchetto ad arco 180 mm", "lucchetti", "59.90", 3),
    _p("LK-CHAIN-110", "Catena antifurto 110 cm", "lucchetti", "79.90", 2),
    _p("LK-FOLD-85", "Lucchetto pieghevole 85 cm", "lucchetti", "69.90", 2),
    _p("LK-SMART-GPS", "Antifurto GPS per e-bike", "lucchetti", "129.00", 2),
    _p("LT-USB-SET", "Set luci USB anteriore e posteriore", "luci", "39.90", 3),
    _p("LT-FRONT-800", "Faro anteriore 800 lumen", "luci", "69.90", 2),
    _p("LT-REAR-RADAR", "Luce posteriore con radar", "luci", "179.00", 1),
    _p("TY-CITY-700X38", "Copertone città 700x38 antiforatura", "copertoni", "29.90", 2),
    _p("TY-EBIKE-275X24", "Copertone e-bike 27,5x2,4", "copertoni", "49.90", 2),
    _p("TY-GRAVEL-700X40", "Copertone gravel 700x40", "copertoni", "44.90", 1),
    _p("TY-TUBE-700", "Camera d'aria 700c valvola presta", "copertoni", "7.90", 1),
    _p("AC-BASKET-FRONT", "Cestino anteriore in vimini", "accessori", "34.90", 2),
    _p("AC-PANNIER-20", "Borsa laterale impermeabile 20 l", "accessori", "89.00", 2),
    _p("AC-SEAT-KIDS", "Seggiolino posteriore bimbo", "accessori", "119.00", 2),
    _p("AC-PUMP-FLOOR", "Pompa da officina con manometro", "accessori", "39.90", 1),
    _p("AC-GLOVES-L", "Guanti invernali L", "accessori", "24.50", 1),
    _p("AC-RAINCOAT", "Mantella antipioggia", "accessori", "49.90", 1),
    _p("SV-TUNEUP", "Tagliando completo", "officina", "79.00", 3),
    _p("SV-EBIKE-CHECK", "Check-up e-bike con diagnosi motore", "officina", "99.00", 3),
    _p("SV-PUNCTURE", "Riparazione foratura", "officina", "15.00", 1),
    _p("SV-BATTERY-TEST", "Test capacità batteria", "officina", "35.00", 1),
    _p("SV-BIKE-FIT", "Bike fitting biomeccanico", "officina", "120.00", 1),
    _p("EB-BATT-500", "Batteria di ricambio 500 Wh", "ricambi", "649.00", 2),
    _p("EB-CHARGER-4A", "Caricabatterie rapido 4 A", "ricambi", "119.00", 1),
    _p("PT-CHAIN-11S", "Catena 11 velocità", "ricambi", "34.90", 1),
    _p("PT-BRAKE-PADS", "Pastiglie freno a disco (coppia)", "ricambi", "19.90", 2),
    _p("PT-SADDLE-CITY", "Sella città in gel", "ricambi", "44.90", 1),
    _p("PT-PEDALS-FLAT", "Pedali flat in alluminio", "ricambi", "39.90", 1),
    _p("PT-GRIPS-ERGO", "Manopole ergonomiche", "ricambi", "24.90", 1),
    _p("PT-MUDGUARD-SET", "Parafanghi 28 pollici (coppia)", "ricambi", "29.90", 1),
    _p("PT-KICKSTAND", "Cavalletto regolabile", "ricambi", "19.90", 1),
    _p("CL-JACKET-RAIN-M", "Giacca antipioggia M", "abbigliamento", "119.00", 2),
    _p("CL-JACKET-RAIN-L", "Giacca antipioggia L", "abbigliamento", "119.00", 1),
    _p("CL-GLOVES-SUMMER-M", "Guanti estivi M", "abbigliamento", "22.90", 1),
    _p("CL-VEST-HIVIS", "Gilet alta visibilità", "abbigliamento", "19.90", 1),
    _p("CL-SHOE-COVERS", "Copriscarpe impermeabili", "abbigliamento", "29.90", 1),
    _p("AC-BOTTLE-750", "Borraccia termica 750 ml", "accessori", "27.00", 1),
    _p("AC-BOTTLE-CAGE", "Portaborraccia in alluminio", "accessori", "12.90", 1),
    _p("AC-PHONE-MOUNT", "Supporto smartphone da manubrio", "accessori", "29.90", 2),
    _p("AC-BELL", "Campanello in ottone", "accessori", "12.90", 1),
    _p("AC-MIRROR", "Specchietto retrovisore", "accessori", "16.90", 1),
    _p("AC-TOOL-MULTI", "Multiattrezzo 16 funzioni", "accessori", "24.90", 1),
)

# What a seller adds to each kind of purchase: the demo's orders follow these habits, so the
# pickup desk's "often bought together" has something true to say.
COMPANIONS = {
    "e-bike": ("HL-URBAN-M-BLU", "HL-URBAN-L-NER", "LK-U-180", "LK-SMART-GPS", "AC-PHONE-MOUNT"),
    "bici": ("HL-URBAN-M-BLU", "LK-U-180", "LT-USB-SET", "AC-BASKET-FRONT", "AC-BELL"),
    "caschi": ("LT-USB-SET", "AC-GLOVES-L", "CL-VEST-HIVIS"),
    "lucchetti": ("LT-USB-SET", "LK-CHAIN-110"),
    "luci": ("LK-U-180", "AC-BELL", "CL-VEST-HIVIS"),
    "copertoni": ("TY-TUBE-700", "AC-PUMP-FLOOR", "SV-PUNCTURE"),
    "accessori": ("AC-BOTTLE-CAGE", "AC-TOOL-MULTI"),
    "officina": ("PT-BRAKE-PADS", "TY-TUBE-700", "PT-CHAIN-11S"),
    "ricambi": ("AC-TOOL-MULTI", "SV-TUNEUP"),
    "abbigliamento": ("CL-SHOE-COVERS", "AC-GLOVES-L"),
}

CATEGORY_PAGES = {
    "e-bike": ("/e-bike", "E-bike"),
    "bici": ("/bici", "Biciclette"),
    "caschi": ("/caschi", "Caschi"),
    "lucchetti": ("/lucchetti", "Lucchetti e antifurto"),
    "luci": ("/luci", "Luci"),
    "copertoni": ("/copertoni", "Copertoni e camere d'aria"),
    "accessori": ("/accessori", "Accessori"),
    "officina": ("/officina", "Officina e assistenza"),
    "ricambi": ("/ricambi", "Ricambi"),
    "abbigliamento": ("/abbigliamento", "Abbigliamento"),
}
