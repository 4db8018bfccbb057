"""A hand-written e-commerce category tree in the CIKM conventions, plus the per-department facts the
generator needs (which attributes make sense, brands, title filler words).

Paths are lower-case English levels joined by ``,`` with no space, 2-4 levels deep; some level names contain
``", "`` themselves ("jewelry, watches & accessories"), exactly the case ``split_category_path`` exists for.
Every leaf maps to one product type of :mod:`.lexicons`, so a leaf has a word in every language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from ecomrel.schema import join_category_path, split_category_path

from .lexicons import MATERIALS, PRODUCTS, SIZE_SCALES

#: A subtree: level name -> product key (a leaf) or a deeper subtree.
Tree = dict[str, Union[str, "Tree"]]

_FABRICS = ("cotton", "linen", "silk", "wool", "polyester", "denim")
_BAG = ("leather", "canvas", "nylon", "polyester")
_SHOE = ("leather", "canvas", "rubber")
_JEWEL = ("gold", "silver", "stainless steel")
_KITCHEN = ("stainless steel", "glass", "ceramic", "wood", "bamboo", "plastic")
_FURNITURE = ("wood", "metal", "glass", "leather", "plastic", "bamboo")
_GADGET = ("plastic", "metal", "leather")
_TOY = ("wood", "plastic")

_APPAREL_FILLERS = ("Summer", "Casual", "Slim Fit", "Loose", "Fashion", "Vintage", "Breathable", "Autumn Winter")
_SHOE_FILLERS = ("Comfortable", "Non-Slip", "Lightweight", "Breathable", "Lace-Up", "Outdoor", "Soft Sole")
_BAG_FILLERS = ("Large Capacity", "Travel", "Waterproof", "Zipper", "Multi-Pocket", "Lightweight", "Vintage")
_JEWEL_FILLERS = ("Elegant", "Gift Box", "Minimalist", "Vintage", "Adjustable", "Hypoallergenic", "Luxury")
_HOME_FILLERS = ("Modern", "Nordic Style", "Decorative", "Handmade", "Minimalist", "Durable", "Easy Clean")
_KITCHEN_FILLERS = ("Non-Stick", "Dishwasher Safe", "Heat Resistant", "Durable", "Food Grade", "Household")
_TECH_FILLERS = ("Portable", "Rechargeable", "Wireless", "Fast Charging", "HD", "Universal", "Smart", "Compact")
_TOOL_FILLERS = ("Professional", "Heavy Duty", "Portable", "Multifunction", "DIY", "Industrial", "Ergonomic")
_BEAUTY_FILLERS = ("Long Lasting", "Waterproof", "Natural", "Travel Size", "Gift Set", "Moisturizing", "Vegan")
_SPORT_FILLERS = ("Outdoor", "Lightweight", "Professional", "Training", "Durable", "Non-Slip", "Adjustable")
_KIDS_FILLERS = ("Cute", "Soft", "Safe", "Educational", "Gift", "Cartoon", "BPA Free")
_FOOD_FILLERS = ("Premium", "Organic", "500g", "1kg", "Gift Pack", "Natural", "Imported", "Family Size")
_MEDIA_FILLERS = ("Hardcover", "Paperback", "Illustrated", "Bestseller", "New Edition", "Collector's Edition")
_PART_FILLERS = ("10 Pcs", "50 Pcs", "High Quality", "DIY Kit", "Original", "SMD", "Module")
_PARTY_FILLERS = ("Party Decoration", "Elegant", "Handmade", "Set of 10", "Romantic", "Birthday", "Custom")

#: Product types for which colour and material make no sense (food, consumables).
PLAIN_PRODUCTS = frozenset({"dry dog food", "cat litter", "sunscreen", "perfume", "face cream", "sheet mask"})


@dataclass(frozen=True)
class Department:
    """A top-level category: its subtree and which attributes its products take."""

    tree: Tree
    brands: tuple[str, ...]
    fillers: tuple[str, ...]
    colours: bool = True
    #: Materials its products come in: one tuple for all, or per second-level category (absent: none).
    materials: tuple[str, ...] | dict[str, tuple[str, ...]] = ()
    audiences: tuple[str, ...] = ()
    sizes: str | None = None


# fmt: off
TAXONOMY: dict[str, Department] = {
    "women's clothing": Department(
        {
            "dresses": {"casual dresses": "dress", "evening dresses": "evening gown"},
            "tops & tees": {"blouses & shirts": "blouse", "camis": "camisole"},
            "bottoms": {"skirts": "skirt", "leggings": "leggings", "wide leg pants": "palazzo pants"},
            "sweaters": {"cardigans": "cardigan"},
            "jumpsuits, playsuits & bodysuits": "jumpsuit",
            "coats & jackets": {"trench coats": "trench coat", "down coats": "puffer jacket"},
        },
        ("Aurelle", "Mirabel", "Solenne"), _APPAREL_FILLERS, materials=_FABRICS, audiences=("women",),
        sizes="apparel",
    ),
    "men's clothing": Department(
        {
            "tops & tees": {"t-shirts": "t-shirt", "polo shirts": "polo shirt", "casual shirts": "shirt"},
            "hoodies & sweatshirts": "hoodie",
            "pants": {"jeans": "jeans", "casual pants": "chinos", "cargo pants": "cargo pants"},
            "suits & blazers": {"suits": "suit", "blazers": "blazer"},
            "jackets & coats": {"parkas": "parka"},
        },
        ("Kestrel", "Harwick", "Dunmore"), _APPAREL_FILLERS, materials=_FABRICS, audiences=("men",),
        sizes="apparel",
    ),
    "underwear & sleepwear": Department(
        {
            "women's intimates": {"bras": "bra", "panties": "panties", "shapewear": "shapewear"},
            "men's underwear": {"boxers": "boxer briefs"},
            "sleepwear": {"pajama sets": "pajamas", "robes": "bathrobe", "nightgowns": "nightgown"},
            "socks & hosiery": {"socks": "socks", "tights": "tights"},
        },
        ("Velvette", "Nocturne", "Softly"), _APPAREL_FILLERS, materials=_FABRICS, audiences=("women", "men"),
        sizes="apparel",
    ),
    "shoes": Department(
        {
            "women's shoes": {
                "pumps": "high heels",
                "flats": "ballet flats",
                "women's boots": {"ankle boots": "ankle boots", "knee high boots": "knee-high boots"},
            },
            "men's shoes": {"casual shoes": "loafers", "formal shoes": "oxford shoes", "sneakers": "sneakers"},
            "sports shoes": {"running shoes": "running shoes", "basketball shoes": "basketball shoes"},
            "slippers": "slippers",
            "sandals": "sandals",
        },
        ("Stridex", "Pacera", "Lumetto"), _SHOE_FILLERS, materials=_SHOE, audiences=("women", "men", "kids"),
        sizes="shoe",
    ),
    "luggage & bags": Department(
        {
            "women's bags": {"handbags": "handbag", "shoulder bags": "shoulder bag", "clutches": "clutch"},
            "men's bags": {"briefcases": "briefcase"},
            "backpacks": "backpack",
            "luggage & travel bags": {"suitcases": "suitcase", "travel bags": "duffel bag"},
            "wallets": {"wallets": "wallet", "coin purses": "coin purse"},
            "waist packs": "fanny pack",
        },
        ("Voyant", "Tessera", "Roamly"), _BAG_FILLERS, materials=_BAG, audiences=("women", "men", "kids"),
    ),
    "jewelry, watches & accessories": Department(
        {
            "fine jewelry": {"rings": "ring", "necklaces": "necklace", "earrings": "earrings",
                             "bracelets": "bracelet"},
            "fashion jewelry": {"brooches": "brooch", "anklets": "anklet", "jewelry sets": "jewelry set"},
            "watches": {"quartz watches": "quartz watch", "pocket watches": "pocket watch",
                        "watch bands": "watch strap"},
        },
        ("Lunaria", "Orafina", "Cielora"), _JEWEL_FILLERS, materials=_JEWEL, audiences=("women", "men", "kids"),
    ),
    "apparel accessories": Department(
        {
            "hats & caps": {"baseball caps": "baseball cap", "skullies & beanies": "beanie", "sun hats": "sun hat"},
            "scarves & wraps": "scarf",
            "gloves & mittens": "gloves",
            "belts": "belt",
            "ties & handkerchiefs": "tie",
            "eyewear": {"sunglasses": "sunglasses", "eyeglasses frames": "glasses frames"},
            "hair accessories": "hair clip",
        },
        ("Feltmore", "Sunvale", "Knotwell"), _APPAREL_FILLERS,
        materials={"hats & caps": ("wool", "cotton"), "scarves & wraps": ("wool", "silk", "cotton"),
                   "gloves & mittens": ("wool", "leather"), "belts": ("leather",), "ties & handkerchiefs": ("silk",),
                   "eyewear": ("metal", "plastic"), "hair accessories": ("metal", "plastic")},
        audiences=("women", "men", "kids"),
    ),
    "automobiles, parts & accessories": Department(
        {
            "interior accessories": {
                "seat covers & cushions": "seat cover",
                "steering covers": "steering wheel cover",
                "floor mats": "car floor mat",
                "phone holders": "car phone holder",
            },
            "exterior accessories": {"car covers": "car cover"},
            "car electronics": {"dash cams": "dash cam", "car chargers": "car charger",
                                "tire pressure & inflators": "tire inflator"},
            "car wash & maintenance": {"sponges, cloths & brushes": "car wash sponge"},
            "car lights": {"headlights": "headlight bulb"},
        },
        ("Autovia", "Drivex", "Motoria"), _TOOL_FILLERS,
        materials={"interior accessories": ("leather", "rubber", "plastic"), "exterior accessories": ("polyester",),
                   "car electronics": ("plastic", "metal")},
    ),
    "motorcycle equipment & parts": Department(
        {
            "helmets": "motorcycle helmet",
            "riding gear": {"jackets": "motorcycle jacket", "gloves": "motorcycle gloves",
                            "boots": "motorcycle boots"},
            "motorcycle parts": {"mirrors": "motorcycle mirror", "brakes": {"brake pads": "brake pads"},
                                 "exhaust & exhaust systems": "exhaust pipe"},
            "motorcycle accessories": {"covers": "motorcycle cover", "tank bags": "tank bag"},
        },
        ("Throttlex", "Moteq", "Asphalto"), _TOOL_FILLERS,
        materials={"riding gear": ("leather", "nylon"), "motorcycle parts": ("metal",),
                   "motorcycle accessories": ("nylon", "leather", "polyester")},
    ),
    "home & garden": Department(
        {
            "home decor": {"vases": "vase", "clocks": {"wall clocks": "wall clock"}, "frames": "photo frame",
                           "candles": "scented candle", "artificial & dried flowers": "artificial flowers"},
            "home textiles": {
                "bedding": {"bedding sets": "bedding set", "pillowcases": "pillowcase"},
                "curtains": "curtains",
                "towels": "bath towel",
            },
            "garden supplies": {"fountains & bird baths": "bird bath", "flower pots & planters": "flower pot",
                                "watering & irrigation": {"watering cans": "watering can",
                                                          "garden hoses": "garden hose"}},
        },
        ("Hearthly", "Casalina", "Verdano"), _HOME_FILLERS,
        materials={"home decor": ("glass", "ceramic", "wood", "metal"), "home textiles": ("cotton", "linen", "silk"),
                   "garden supplies": ("ceramic", "plastic", "metal")},
    ),
    "kitchen, dining & bar": Department(
        {
            "cookware": {"pans": "frying pan", "soup & stock pots": "stock pot", "woks": "wok"},
            "kitchen tools & gadgets": {"knives & accessories": "kitchen knife", "cutting boards": "cutting board",
                                        "fruit & vegetable tools": "vegetable peeler"},
            "drinkware": {"mugs": "mug", "wine glasses": "wine glass", "water bottles": "water bottle"},
            "dinnerware": {"dishes & plates": "dinner plate", "bowls": "bowl"},
            "barware": {"cocktail shakers": "cocktail shaker"},
        },
        ("Cucinova", "Panaro", "Sipwell"), _KITCHEN_FILLERS, materials=_KITCHEN,
    ),
    "furniture": Department(
        {
            "living room furniture": {"sofas": "sofa", "coffee tables": "coffee table", "tv stands": "tv stand"},
            "bedroom furniture": {"beds": "bed frame", "wardrobes": "wardrobe", "nightstands": "nightstand"},
            "office furniture": {"office chairs": "office chair", "computer desks": "desk"},
            "outdoor furniture": {"hammocks": "hammock", "garden chairs": "garden chair"},
            "storage furniture": {"bookcases": "bookshelf"},
        },
        ("Mobelo", "Oakhaven", "Nordvik"), _HOME_FILLERS, materials=_FURNITURE,
    ),
    "home appliances": Department(
        {
            "kitchen appliances": {"blenders": "blender", "coffee makers": "coffee maker",
                                   "air fryers": "air fryer", "microwave ovens": "microwave",
                                   "electric kettles": "electric kettle", "rice cookers": "rice cooker"},
            "cleaning appliances": {"vacuum cleaners": "vacuum cleaner", "robot vacuums": "robot vacuum"},
            "personal care appliances": {"hair dryers": "hair dryer", "shavers": "electric shaver"},
            "climate appliances": {"fans": "electric fan", "air purifiers": "air purifier",
                                   "humidifiers": "humidifier"},
        },
        ("Kelvion", "Brisalta", "Voltara"), _TECH_FILLERS, materials=("stainless steel", "plastic", "glass"),
    ),
    "consumer electronics": Department(
        {
            "portable audio & video": {"earphones & headphones": {"headphones": "headphones",
                                                                  "wireless earbuds": "wireless earbuds"},
                                       "speakers": "bluetooth speaker"},
            "camera & photo": {"digital cameras": "digital camera", "tripods": "tripod",
                               "sports & action cameras": "action camera"},
            "smart electronics": {"smart watches": "smartwatch", "smart wristbands": "fitness tracker"},
            "home audio & video": {"projectors": "projector", "tv boxes": "tv box"},
            "video games": {"gamepads": "game controller"},
        },
        ("Sonique", "Pixora", "Zentek"), _TECH_FILLERS, materials=("plastic", "metal"),
    ),
    "computer & office": Department(
        {
            "laptops": "laptop",
            "tablets": "tablet",
            "computer peripherals": {"keyboards": "keyboard", "mice": "mouse", "monitors": "monitor",
                                     "webcams": "webcam"},
            "external storage": {"usb flash drives": "usb flash drive", "external hard drives": "external hard drive",
                                 "memory cards": "memory card"},
            "networking": {"wireless routers": "wifi router"},
            "laptop accessories": {"laptop stands": "laptop stand"},
        },
        ("Compuvia", "Keyra", "Datalink"), _TECH_FILLERS, materials=("plastic", "metal"),
    ),
    "cellphones & telecommunications": Department(
        {
            "mobile phones": "smartphone",
            "mobile phone accessories": {"phone cases & covers": "phone case",
                                         "screen protectors": "screen protector",
                                         "chargers": "phone charger", "cables": "charging cable",
                                         "power bank": "power bank", "selfie sticks": "selfie stick"},
            "communication equipment": {"walkie talkies": "walkie talkie"},
            "mobile phone parts": {"lcd screens": "replacement screen"},
        },
        ("Phonix", "Celluma", "Voxa"), _TECH_FILLERS, materials=_GADGET,
    ),
    "beauty & health": Department(
        {
            "makeup": {
                "lips": {"lipstick": "lipstick", "lip gloss": "lip gloss"},
                "eyes": {"mascara": "mascara", "eyeliner": "eyeliner"},
                "face": {"foundation": "foundation"},
                "makeup tools": {"makeup brushes": "makeup brush"},
            },
            "skin care": {"face creams": "face cream", "sunscreen": "sunscreen", "face masks": "sheet mask"},
            "nail art & tools": {"nail polish": "nail polish"},
            "fragrances": "perfume",
        },
        ("Belvia", "Rosalie", "Glowra"), _BEAUTY_FILLERS, audiences=("women", "men"),
    ),
    "sports & entertainment": Department(
        {
            "fitness & body building": {"yoga mats": "yoga mat", "dumbbells": "dumbbell",
                                        "resistance bands": "resistance band", "jump ropes": "jump rope"},
            "cycling": {"bicycles": "bicycle", "bicycle helmets": "bike helmet", "bicycle lights": "bike light"},
            "camping & hiking": {"tents": "tent", "sleeping bags": "sleeping bag",
                                 "trekking poles": "trekking poles"},
            "fishing": {"fishing rods": "fishing rod", "fishing reels": "fishing reel"},
            "team sports": {"football": {"soccer balls": "soccer ball"}, "basketball": {"basketballs": "basketball"}},
            "swimming": {"swimming goggles": "swim goggles"},
            "sportswear": {"women's sportswear": {"sports bras": "sports bra"}},
        },
        ("Velotrek", "Summitor", "Aquaflex"), _SPORT_FILLERS,
        materials={"fitness & body building": ("rubber", "metal", "nylon"), "cycling": ("metal", "plastic"),
                   "camping & hiking": ("nylon", "polyester"), "team sports": ("rubber", "leather"),
                   "sportswear": ("nylon", "polyester", "cotton")},
        audiences=("women", "men", "kids"),
    ),
    "mother & kids": Department(
        {
            "baby clothing": {"rompers": "baby romper", "bibs": "bib"},
            "feeding": {"bottles": "baby bottle", "pacifiers": "pacifier", "high chairs": "high chair"},
            "activity & gear": {"strollers": "stroller", "backpacks & carriers": "baby carrier"},
            "nappy changing": {"diapers": "diapers"},
            "safety equipment": {"baby monitors": "baby monitor"},
            "kids clothing": {"raincoats": "raincoat"},
        },
        ("Nestbee", "Cuddlo", "Babilu"), _KIDS_FILLERS,
        materials={"baby clothing": ("cotton",), "feeding": ("plastic", "glass"), "kids clothing": ("polyester",)},
        audiences=("kids", "baby"),
    ),
    "toys & hobbies": Department(
        {
            "dolls & stuffed toys": {"stuffed animals": "plush toy", "dolls": "doll"},
            "building & construction toys": {"blocks": "building blocks"},
            "puzzles & games": {"puzzles": "jigsaw puzzle", "board games": "board game"},
            "remote control toys": {"rc cars": "rc car", "rc aircraft": {"drones": "drone"}},
            "outdoor fun & sports": {"kites": "kite", "water guns": "water gun"},
            "action & toy figures": "action figure",
            "model building": {"model kits": "model kit"},
        },
        ("Playmore", "Toyvana", "Kidora"), _KIDS_FILLERS, materials=_TOY, audiences=("kids",),
    ),
    "tools": Department(
        {
            "power tools": {"electric drills": "cordless drill", "grinders": "angle grinder",
                            "electric screwdrivers": "electric screwdriver"},
            "hand tools": {"hammers": "hammer", "wrenches": "wrench", "screwdrivers": "screwdriver set",
                           "pliers": "pliers"},
            "measurement & analysis instruments": {"tape measures": "tape measure", "multimeters": "multimeter",
                                                   "laser levels": "laser level"},
            "tool storage": {"tool boxes": "toolbox"},
            "welding & soldering supplies": {"electric soldering irons": "soldering iron"},
        },
        ("Forgemaster", "Torqen", "Ironleaf"), _TOOL_FILLERS,
    ),
    "home improvement": Department(
        {
            "bathroom fixtures": {"shower heads": "shower head", "toilet seats": "toilet seat"},
            "kitchen fixtures": {"kitchen faucets": "kitchen faucet"},
            "electrical equipment & supplies": {"power strips": "power strip", "switches": "light switch"},
            "hardware": {"door handles": "door handle", "hooks & rails": "wall hook"},
            "painting supplies & wall treatments": {"paint brushes": "paint brush", "paint rollers": "paint roller",
                                                    "wallpapers": "wallpaper"},
        },
        ("Fixora", "Plumbo", "Renova"), _HOME_FILLERS,
        materials={"bathroom fixtures": ("stainless steel", "ceramic", "plastic"),
                   "kitchen fixtures": ("stainless steel",), "electrical equipment & supplies": ("plastic",),
                   "hardware": ("metal", "stainless steel")},
    ),
    "lights & lighting": Department(
        {
            "indoor lighting": {"ceiling lights": "ceiling light", "pendant lights": "pendant light",
                                "table lamps": "table lamp", "floor lamps": "floor lamp", "wall lamps": "wall lamp"},
            "outdoor lighting": {"solar lamps": "solar light", "lighting strings": "fairy lights"},
            "led lighting": {"led strips": "led strip", "led bulbs": "led bulb"},
            "portable lighting": {"flashlights & torches": "flashlight", "night lights": "night light"},
        },
        ("Luminar", "Glowmark", "Candelo"), _HOME_FILLERS, materials=("metal", "glass", "wood", "plastic"),
    ),
    "security & protection": Department(
        {
            "video surveillance": {"surveillance cameras": "security camera", "doorbells": "video doorbell"},
            "safes": "safe",
            "door locks": {"smart locks": "smart lock", "padlocks": "padlock"},
            "fire protection": {"fire extinguishers": "fire extinguisher", "smoke detectors": "smoke detector"},
            "workplace safety supplies": {"safety glasses": "safety glasses", "work gloves": "work gloves",
                                          "safety helmets": "hard hat"},
        },
        ("Guardia", "Lockwell", "Vigilo"), _TOOL_FILLERS,
    ),
    "office & school supplies": Department(
        {
            "writing supplies": {"ballpoint pens": "ballpoint pen", "pencils": "pencil", "highlighters": "highlighter"},
            "notebooks & writing pads": {"notebooks": "spiral notebook", "sketchbooks": "sketchbook"},
            "pencil cases & bags": "pencil case",
            "office binding supplies": {"staplers": "stapler"},
            "desk accessories & organizer": {"desk organizers": "desk organizer"},
            "calculators": "calculator",
            "painting supplies": {"watercolor": "watercolor paint"},
            "tapes, adhesives & fasteners": {"office adhesive tape": "adhesive tape"},
        },
        ("Scriba", "Notara", "Papyro"), _KIDS_FILLERS,
    ),
    "pet products": Department(
        {
            "dog supplies": {"collars, harnesses & leads": {"dog collars": "dog collar", "dog leashes": "dog leash"},
                             "dog beds": "dog bed", "dog toys": "dog toy", "dog food": "dry dog food"},
            "cat supplies": {"cat trees & scratchers": "cat tree", "cat litter": "cat litter",
                             "litter boxes": "litter box"},
            "fish & aquatic pets": {"aquariums": "aquarium", "filters & accessories": "aquarium filter"},
            "bird supplies": {"bird cages": "bird cage"},
        },
        ("Pawsome", "Furrio", "Fishmoor"), _KIDS_FILLERS,
        materials={"dog supplies": ("nylon", "leather", "cotton"), "cat supplies": ("wood", "plastic"),
                   "fish & aquatic pets": ("glass", "plastic"), "bird supplies": ("metal", "wood")},
    ),
    "food": Department(
        {
            "coffee & tea": {"coffee beans": "coffee beans", "green tea": "green tea",
                             "instant coffee": "instant coffee"},
            "snacks": {"chocolate": "chocolate", "cookies": "cookies", "nuts & seeds": "mixed nuts",
                       "dried fruit": "dried fruit"},
            "grain products": {"pasta": "pasta", "rice": "jasmine rice"},
            "cooking seasonings": {"oils": "olive oil", "honey": "honey", "sauces": "hot sauce"},
        },
        ("Dolcetto", "Harvestia", "Mielora"), _FOOD_FILLERS, colours=False,
    ),
    "musical instruments": Department(
        {
            "stringed instruments": {"guitars": {"acoustic guitars": "acoustic guitar",
                                                 "electric guitars": "electric guitar"},
                                     "ukuleles": "ukulele", "violins": "violin"},
            "keyboard instruments": {"digital pianos": "digital piano"},
            "percussion instruments": {"drums": "drum kit"},
            "wind instruments": {"harmonicas": "harmonica", "flutes": "flute", "saxophones": "saxophone"},
            "instrument parts & accessories": {"guitar parts": {"strings": "guitar strings"},
                                               "microphones": "microphone"},
        },
        ("Melodix", "Strumwell", "Tonalis"), _TECH_FILLERS, materials=("wood", "metal"),
    ),
    "weddings & events": Department(
        {
            "wedding dresses": "wedding dress",
            "wedding party dress": {"bridesmaid dresses": "bridesmaid dress"},
            "wedding accessories": {"bridal veils": "bridal veil", "invitation cards": "wedding invitation"},
            "event & party": {"balloons": "balloons", "banners, streamers & confetti": "party banner",
                              "table cloths": "tablecloth", "cake decorating supplies": "cake topper"},
        },
        ("Bridella", "Festivo", "Amoretto"), _PARTY_FILLERS,
        materials={"wedding dresses": ("silk", "polyester"), "wedding party dress": ("silk", "polyester"),
                   "event & party": ("polyester", "cotton")},
    ),
    "arts, crafts & sewing": Department(
        {
            "sewing": {"sewing machines": "sewing machine", "fabric": "fabric"},
            "knitting & crochet": {"yarn": "yarn", "knitting needles": "knitting needles"},
            "needlework": {"cross-stitch": "cross stitch kit", "diamond painting cross stitch": "diamond painting kit"},
            "painting supplies": {"acrylic paints": "acrylic paint", "canvas": "painting canvas"},
            "craft supplies": {"glue guns": "glue gun"},
        },
        ("Craftly", "Stitchery", "Pinturo"), _HOME_FILLERS,
        materials={"knitting & crochet": ("wool", "cotton", "bamboo"), "painting supplies": ("cotton", "linen")},
    ),
    "books, music & media": Department(
        {
            "books": {"cookbooks": "cookbook", "novels": "novel", "comics": "comic book",
                      "children's books": "children's book", "dictionaries": "dictionary",
                      "coloring books": "coloring book"},
            "music": {"vinyl records": "vinyl record"},
        },
        ("Lectora", "Pagewise", "Inkwell"), _MEDIA_FILLERS, colours=False,
    ),
    "electronic components & supplies": Department(
        {
            "active components": {"integrated circuits": "integrated circuit", "transistors": "transistor"},
            "passive components": {"resistors": "resistor", "capacitors": "capacitor"},
            "demo board & accessories": {"development boards": "development board", "breadboards": "breadboard"},
            "sensors": "temperature sensor",
            "batteries": "rechargeable battery",
        },
        ("Circuitra", "Ohmex", "Voltix"), _PART_FILLERS, colours=False,
    ),
}
# fmt: on

#: Level-name prefixes that fix the audience of everything below them ("women's shoes" -> women).
_IMPLIED_AUDIENCE = (("women's", "women"), ("men's", "men"), ("kids", "kids"), ("baby", "baby"))
_STOPWORDS = frozenset({"and", "for", "the", "with", "of"})


def content_words(text: str) -> set[str]:
    """Words that make two category names "share a word" (possessives folded: women's -> women)."""
    return {w for w in re.findall(r"[a-z]+", text.lower().replace("'s", "")) if len(w) > 2} - _STOPWORDS


@dataclass(frozen=True)
class LeafFacts:
    """What the generator may say about products at one leaf."""

    path: str
    department: str
    product: str
    colours: bool
    materials: tuple[str, ...]
    audiences: tuple[str, ...]
    sizes: tuple[str, ...]
    brands: tuple[str, ...]


class Taxonomy:
    """The tree of :data:`TAXONOMY` flattened into paths, with the relations the generator samples from."""

    def __init__(self, departments: dict[str, Department] = TAXONOMY) -> None:
        self.departments = departments
        self.paths: list[str] = []  # every node, parents before children, in the order written
        self.children: dict[str, list[str]] = {}
        self.parent: dict[str, str | None] = {}
        self.product: dict[str, str] = {}  # leaf path -> product key
        for name, dept in departments.items():
            self._walk([name], dept.tree)
        self.leaves: list[str] = [p for p in self.paths if p in self.product]
        self.subtree: dict[str, list[str]] = {p: [] for p in self.paths}  # node -> itself and all below it
        for path in self.paths:
            for up in self.ancestors(path):
                self.subtree[up].append(path)
        self.brand_home: dict[str, str] = self._brand_homes()
        self.leaf_facts: dict[str, LeafFacts] = {leaf: self._facts(leaf) for leaf in self.leaves}
        self._validate()

    def _walk(self, levels: list[str], tree: Tree) -> None:
        path = join_category_path(levels)
        self.paths.append(path)
        self.parent[path] = join_category_path(levels[:-1]) if len(levels) > 1 else None
        self.children[path] = []
        for name, sub in tree.items():
            child = join_category_path([*levels, name])
            self.children[path].append(child)
            if isinstance(sub, str):
                self.paths.append(child)
                self.parent[child] = path
                self.children[child] = []
                self.product[child] = sub
            else:
                self._walk([*levels, name], sub)

    def _brand_homes(self) -> dict[str, str]:
        """Brand 0 of a department sells across it; the others specialise in one of its subtrees."""
        homes: dict[str, str] = {}
        for name, dept in self.departments.items():
            kids = self.children[name]
            for i, brand in enumerate(dept.brands):
                homes[brand] = name if i == 0 else kids[(i - 1) % len(kids)]
        return homes

    def department(self, path: str) -> str:
        return split_category_path(path)[0]

    def ancestors(self, path: str) -> list[str]:
        """``path`` and every node above it, nearest first."""
        out = [path]
        while (up := self.parent[out[-1]]) is not None:
            out.append(up)
        return out

    def is_under(self, path: str, node: str) -> bool:
        """Whether ``path`` is ``node`` or lies below it."""
        return node in self.ancestors(path)

    @cached_property
    def _leaves_under(self) -> dict[str, list[str]]:
        return {node: [p for p in below if p in self.product] for node, below in self.subtree.items()}

    def leaves_under(self, node: str) -> list[str]:
        return self._leaves_under[node]

    @cached_property
    def words(self) -> dict[str, list[str]]:
        """Content word -> nodes whose own level name (or product type, for leaves) contains it."""
        index: dict[str, list[str]] = {}
        for path in self.paths:
            text = split_category_path(path)[-1] + " " + self.product.get(path, "")
            for word in sorted(content_words(text)):
                index.setdefault(word, []).append(path)
        return index

    def node_words(self, path: str) -> set[str]:
        return content_words(split_category_path(path)[-1] + " " + self.product.get(path, ""))

    def _facts(self, leaf: str) -> LeafFacts:
        name = self.department(leaf)
        dept = self.departments[name]
        product = self.product[leaf]
        audiences = dept.audiences
        if audiences:
            for level in split_category_path(leaf):
                implied = [aud for prefix, aud in _IMPLIED_AUDIENCE if level.startswith(prefix)]
                if implied:
                    audiences = (implied[0],)
        plain = product in PLAIN_PRODUCTS
        materials = dept.materials
        if isinstance(materials, dict):
            materials = materials.get(split_category_path(leaf)[1], ())
        return LeafFacts(
            path=leaf,
            department=name,
            product=product,
            colours=dept.colours and not plain,
            materials=() if plain else materials,
            audiences=audiences,
            sizes=SIZE_SCALES[dept.sizes] if dept.sizes else (),
            brands=tuple(b for b in dept.brands if self.is_under(leaf, self.brand_home[b])),
        )

    def _validate(self) -> None:
        seen: dict[str, str] = {}
        for leaf, key in self.product.items():
            if key not in PRODUCTS:
                raise ValueError(f"taxonomy leaf {leaf!r}: product {key!r} has no lexicon entry")
            if key in seen:
                raise ValueError(f"taxonomy: product {key!r} used by both {seen[key]!r} and {leaf!r}")
            seen[key] = leaf
        for path in self.paths:
            levels = split_category_path(path)
            if join_category_path(levels) != path or not 1 <= len(levels) <= 4 or path != path.lower():
                raise ValueError(f"taxonomy: path {path!r} breaks the CIKM conventions")
        for leaf in self.leaves:
            if len(split_category_path(leaf)) < 2:
                raise ValueError(f"taxonomy: leaf {leaf!r} is a top-level category")
        for name, dept in self.departments.items():
            groups = dept.materials if isinstance(dept.materials, dict) else {name: dept.materials}
            for group, materials in groups.items():
                if group != name and join_category_path([name, group]) not in self.children:
                    raise ValueError(f"taxonomy department {name!r}: materials for unknown category {group!r}")
                if unknown := set(materials) - set(MATERIALS):
                    raise ValueError(f"taxonomy department {name!r}: unknown materials {sorted(unknown)}")
        brands = [b for d in self.departments.values() for b in d.brands]
        if len(set(brands)) != len(brands):
            raise ValueError("taxonomy: a brand is listed under two departments")
