# ruff: noqa: E501  (the tables keep one entry per line so each reads across all 13 languages)
"""Hand-written per-language vocabulary for the synthetic queries and English item titles.

Every product type (one per taxonomy leaf) has a real word or phrase in each of the 13 CIKM languages, written
in the language's own script (ja, ko, th, ar) and with its diacritics (vn, pl, ...). Words that must agree with
an adjective carry a grammatical gender after a slash: ``robe/f``. Markers: ``f`` feminine, ``mp``/``fp``
masculine/feminine plural (es fr pt it), ``n`` neuter or non-virile plural (pl); no marker = masculine singular.
Adjective-like attributes (colours, some audiences) list their forms separated by ``|`` in the order
``m|f|mp|fp`` (es fr pt it), ``m|f|n`` (pl) or ``m|f`` (ar); a single form is invariable.

The tables are data, parsed and validated once at import, so a typo fails loudly rather than producing a
silently malformed query.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The 13 CIKM languages, in the column order of :data:`_PRODUCT_TABLE` (English is the key itself).
LANGS: tuple[str, ...] = ("en", "es", "fr", "ja", "ko", "pt", "th", "ar", "de", "it", "pl", "id", "vn")
_COLUMNS = LANGS[1:]
_GENDERS = ("m", "f", "mp", "fp", "n")

#: Which position of a ``|``-separated form list each gender selects, per inflecting language.
_FORM_INDEX: dict[str, dict[str, int]] = {
    **{lang: {"m": 0, "f": 1, "mp": 2, "fp": 3, "n": 0} for lang in ("es", "fr", "pt", "it")},
    "pl": {"m": 0, "f": 1, "mp": 2, "fp": 2, "n": 2},
    "ar": {"m": 0, "f": 1, "mp": 0, "fp": 1, "n": 0},
}
_FORM_COUNT = {"es": 4, "fr": 4, "pt": 4, "it": 4, "pl": 3, "ar": 2}


@dataclass(frozen=True)
class Word:
    """A noun phrase and the grammatical gender its modifiers agree with."""

    text: str
    gender: str = "m"


# fmt: off
# ---------------------------------------------------------------------------------------------------------------
# Product types: English key -> "es | fr | ja | ko | pt | th | ar | de | it | pl | id | vn".
# ---------------------------------------------------------------------------------------------------------------
_PRODUCT_TABLE: dict[str, str] = {
    # women's clothing
    "dress": "vestido | robe/f | ワンピース | 원피스 | vestido | ชุดเดรส | فستان | Kleid | vestito | sukienka/f | gaun | váy đầm",
    "evening gown": "vestido de noche | robe de soirée/f | イブニングドレス | 이브닝드레스 | vestido de festa | ชุดราตรี | فستان سهرة | Abendkleid | abito da sera | suknia wieczorowa/f | gaun malam | váy dạ hội",
    "blouse": "blusa/f | chemisier | ブラウス | 블라우스 | blusa/f | เสื้อเบลาส์ | بلوزة/f | Bluse | camicetta/f | bluzka/f | blus | áo kiểu nữ",
    "camisole": "camisola/f | caraco | キャミソール | 캐미솔 | regata/f | เสื้อสายเดี่ยว | توب بحمالات | Trägertop | canottiera/f | top na ramiączkach | kamisol | áo hai dây",
    "skirt": "falda/f | jupe/f | スカート | 치마 | saia/f | กระโปรง | تنورة/f | Rock | gonna/f | spódnica/f | rok | chân váy",
    "leggings": "leggings/mp | legging | レギンス | 레깅스 | legging/f | เลกกิ้ง | ليغينغ | Leggings | leggings/mp | legginsy/n | celana legging | quần legging",
    "palazzo pants": "pantalón palazzo | pantalon palazzo | ワイドパンツ | 와이드 팬츠 | calça pantalona/f | กางเกงขากว้าง | بنطلون واسع | Palazzohose | pantaloni palazzo/mp | spodnie palazzo/n | celana kulot | quần ống rộng",
    "cardigan": "cárdigan | gilet | カーディガン | 가디건 | cardigã | เสื้อคาร์ดิแกน | كارديجان | Strickjacke | cardigan | kardigan | kardigan rajut | áo cardigan",
    "jumpsuit": "mono | combinaison/f | オールインワン | 점프수트 | macacão | จัมพ์สูท | جمبسوت | Jumpsuit | tuta intera/f | kombinezon | jumpsuit | áo liền quần",
    "trench coat": "gabardina/f | trench | トレンチコート | 트렌치코트 | sobretudo | เสื้อโค้ทเทรนช์ | معطف ترنش | Trenchcoat | trench | trencz | mantel trench | áo măng tô",
    "puffer jacket": "chaqueta acolchada/f | doudoune/f | ダウンジャケット | 패딩 점퍼 | jaqueta puffer/f | เสื้อแจ็คเก็ตขนเป็ด | جاكيت منفوخ | Daunenjacke | piumino | kurtka puchowa/f | jaket puffer | áo phao",
    # men's clothing
    "t-shirt": "camiseta/f | tee-shirt | Tシャツ | 티셔츠 | camiseta/f | เสื้อยืด | تيشيرت | T-Shirt | maglietta/f | koszulka/f | kaos | áo thun",
    "polo shirt": "polo | polo | ポロシャツ | 폴로셔츠 | camisa polo/f | เสื้อโปโล | قميص بولو | Poloshirt | polo/f | koszulka polo/f | kaos polo | áo polo",
    "shirt": "camisa/f | chemise/f | シャツ | 셔츠 | camisa social/f | เสื้อเชิ้ต | قميص | Hemd | camicia/f | koszula/f | kemeja | áo sơ mi",
    "hoodie": "sudadera con capucha/f | sweat à capuche | パーカー | 후드티 | moletom com capuz | เสื้อฮู้ด | هودي | Kapuzenpullover | felpa con cappuccio/f | bluza z kapturem/f | jaket hoodie | áo hoodie",
    "jeans": "vaqueros/mp | jean | ジーンズ | 청바지 | calça jeans/f | กางเกงยีนส์ | بنطلون جينز | Jeans | jeans/mp | dżinsy/n | celana jeans | quần jean",
    "chinos": "pantalón chino | chino | チノパン | 치노 팬츠 | calça chino/f | กางเกงชิโน่ | بنطلون تشينو | Chinohose | pantaloni chino/mp | spodnie chino/n | celana chino | quần kaki",
    "cargo pants": "pantalón cargo | pantalon cargo | カーゴパンツ | 카고 바지 | calça cargo/f | กางเกงคาร์โก้ | بنطلون كارغو | Cargohose | pantaloni cargo/mp | spodnie bojówki/n | celana kargo | quần túi hộp",
    "suit": "traje | costume | スーツ | 정장 | terno | ชุดสูท | بدلة/f | Anzug | completo | garnitur | jas | bộ vest",
    "blazer": "americana/f | veste de blazer/f | ブレザー | 블레이저 | blazer | เสื้อเบลเซอร์ | بليزر | Sakko | giacca blazer/f | marynarka/f | blazer pria | áo blazer",
    "parka": "parka/f | parka/f | モッズコート | 파카 | parca/f | เสื้อพาร์กา | باركا | Parka | parka | parka/f | jaket parka | áo parka",
    # underwear & sleepwear
    "bra": "sujetador | soutien-gorge | ブラジャー | 브래지어 | sutiã | เสื้อชั้นใน | حمالة صدر/f | BH | reggiseno | biustonosz | beha | áo ngực",
    "panties": "bragas/fp | culotte/f | ショーツ | 팬티 | calcinha/f | กางเกงในผู้หญิง | سروال داخلي نسائي | Slip | mutandine/fp | majtki/n | celana dalam wanita | quần lót nữ",
    "shapewear": "faja/f | gaine/f | 補正下着 | 보정속옷 | cinta modeladora/f | ชุดกระชับสัดส่วน | مشد | Miederwäsche | guaina/f | bielizna modelująca/f | korset | đồ lót định hình",
    "boxer briefs": "bóxer | boxer | ボクサーパンツ | 드로즈 | cueca boxer/f | กางเกงในบ็อกเซอร์ | بوكسر | Boxershorts | boxer | bokserki/n | celana boxer | quần lót boxer",
    "pajamas": "pijama | pyjama | パジャマ | 잠옷 | pijama | ชุดนอน | بيجامة/f | Schlafanzug | pigiama | piżama/f | piyama | bộ đồ ngủ",
    "bathrobe": "albornoz | peignoir | バスローブ | 목욕가운 | roupão | เสื้อคลุมอาบน้ำ | روب حمام | Bademantel | accappatoio | szlafrok | jubah mandi | áo choàng tắm",
    "nightgown": "camisón | chemise de nuit/f | ネグリジェ | 슬립 원피스 | camisola de dormir/f | ชุดนอนกระโปรง | قميص نوم | Nachthemd | camicia da notte/f | koszula nocna/f | daster | váy ngủ",
    "socks": "calcetines/mp | chaussettes/fp | 靴下 | 양말 | meias/fp | ถุงเท้า | جوارب/f | Socken | calzini/mp | skarpetki/n | kaos kaki | tất",
    "tights": "medias/fp | collants/mp | タイツ | 스타킹 | meia-calça/f | ถุงน่อง | جوارب طويلة/f | Strumpfhose | collant/mp | rajstopy/n | stoking | quần tất",
    # shoes
    "high heels": "tacones/mp | escarpins/mp | ハイヒール | 하이힐 | salto alto | รองเท้าส้นสูง | كعب عالي | High Heels | décolleté/fp | szpilki/n | sepatu hak tinggi | giày cao gót",
    "ballet flats": "bailarinas/fp | ballerines/fp | バレエシューズ | 플랫슈즈 | sapatilhas/fp | รองเท้าบัลเล่ต์ | حذاء باليه | Ballerinas | ballerine/fp | baleriny/n | sepatu balet | giày búp bê",
    "ankle boots": "botines/mp | bottines/fp | ショートブーツ | 앵클부츠 | botas de cano curto/fp | รองเท้าบูทหุ้มข้อ | بوت كاحل | Stiefeletten | stivaletti/mp | botki/n | sepatu bot pendek | giày bốt cổ ngắn",
    "knee-high boots": "botas altas/fp | bottes hautes/fp | ロングブーツ | 롱부츠 | botas de cano alto/fp | รองเท้าบูทยาว | جزمة طويلة/f | Langschaftstiefel | stivali alti/mp | kozaki/n | sepatu bot panjang | giày bốt cao cổ",
    "loafers": "mocasines/mp | mocassins/mp | ローファー | 로퍼 | mocassins/mp | รองเท้าโลฟเฟอร์ | حذاء لوفر | Loafer | mocassini/mp | mokasyny/n | sepatu loafer | giày lười",
    "oxford shoes": "zapatos oxford/mp | richelieus/mp | オックスフォードシューズ | 옥스퍼드화 | sapatos oxford/mp | รองเท้าอ็อกฟอร์ด | حذاء أكسفورد | Oxford-Schuhe | scarpe oxford/fp | półbuty oxford/n | sepatu oxford | giày oxford",
    "running shoes": "zapatillas de running/fp | chaussures de running/fp | ランニングシューズ | 러닝화 | tênis de corrida/mp | รองเท้าวิ่ง | حذاء جري | Laufschuhe | scarpe da corsa/fp | buty do biegania/n | sepatu lari | giày chạy bộ",
    "basketball shoes": "zapatillas de baloncesto/fp | chaussures de basket/fp | バスケットシューズ | 농구화 | tênis de basquete/mp | รองเท้าบาสเกตบอล | حذاء كرة سلة | Basketballschuhe | scarpe da basket/fp | buty do koszykówki/n | sepatu basket | giày bóng rổ",
    "sneakers": "zapatillas/fp | baskets/fp | スニーカー | 스니커즈 | tênis casual/mp | รองเท้าผ้าใบ | حذاء رياضي | Sneaker | sneakers/fp | trampki/n | sepatu sneakers | giày thể thao",
    "slippers": "pantuflas/fp | chaussons/mp | スリッパ | 슬리퍼 | pantufas/fp | รองเท้าแตะในบ้าน | شبشب | Hausschuhe | pantofole/fp | kapcie/n | sandal rumah | dép đi trong nhà",
    "sandals": "sandalias/fp | sandales/fp | サンダル | 샌들 | sandálias/fp | รองเท้าแตะ | صندل | Sandalen | sandali/mp | sandały/n | sandal | dép sandal",
    # luggage & bags
    "handbag": "bolso | sac à main | ハンドバッグ | 핸드백 | bolsa de mão/f | กระเป๋าถือ | حقيبة يد/f | Handtasche | borsa/f | torebka/f | tas tangan | túi xách",
    "shoulder bag": "bolso de hombro | sac bandoulière | ショルダーバッグ | 숄더백 | bolsa de ombro/f | กระเป๋าสะพายไหล่ | حقيبة كتف/f | Umhängetasche | borsa a tracolla/f | torba na ramię/f | tas selempang | túi đeo vai",
    "clutch": "cartera de mano/f | pochette/f | クラッチバッグ | 클러치백 | bolsa clutch/f | กระเป๋าคลัทช์ | حقيبة سهرة/f | Clutch | pochette/f | kopertówka/f | tas clutch | ví cầm tay",
    "briefcase": "maletín | porte-documents | ビジネスバッグ | 서류가방 | pasta executiva/f | กระเป๋าเอกสาร | حقيبة أوراق/f | Aktentasche | valigetta/f | teczka/f | tas kerja | cặp công sở",
    "backpack": "mochila/f | sac à dos | リュック | 백팩 | mochila/f | กระเป๋าเป้ | حقيبة ظهر/f | Rucksack | zaino | plecak | ransel | ba lô",
    "suitcase": "maleta/f | valise/f | スーツケース | 캐리어 | mala de viagem/f | กระเป๋าเดินทาง | حقيبة سفر/f | Koffer | valigia/f | walizka/f | koper | vali",
    "duffel bag": "bolsa de viaje/f | sac de voyage | ボストンバッグ | 더플백 | bolsa de viagem/f | กระเป๋าดัฟเฟิล | حقيبة رياضية/f | Reisetasche | borsone | torba podróżna/f | tas travel | túi du lịch",
    "wallet": "cartera/f | portefeuille | 財布 | 지갑 | carteira/f | กระเป๋าสตางค์ | محفظة/f | Geldbörse | portafoglio | portfel | dompet | ví",
    "coin purse": "monedero | porte-monnaie | 小銭入れ | 동전지갑 | porta-moedas | กระเป๋าใส่เหรียญ | محفظة عملات/f | Kleingeldbörse | portamonete | portmonetka/f | dompet koin | ví đựng tiền xu",
    "fanny pack": "riñonera/f | sac banane | ウエストポーチ | 힙색 | pochete/f | กระเป๋าคาดเอว | حقيبة خصر/f | Bauchtasche | marsupio | saszetka nerka/f | tas pinggang | túi đeo hông",
    # jewelry, watches & accessories
    "ring": "anillo | bague/f | 指輪 | 반지 | anel | แหวน | خاتم | Fingerring | anello | pierścionek | cincin | nhẫn",
    "necklace": "collar | collier | ネックレス | 목걸이 | colar | สร้อยคอ | قلادة/f | Halskette | collana/f | naszyjnik | kalung | dây chuyền",
    "earrings": "pendientes/mp | boucles d'oreilles/fp | ピアス | 귀걸이 | brincos/mp | ต่างหู | أقراط/f | Ohrringe | orecchini/mp | kolczyki/n | anting | bông tai",
    "bracelet": "pulsera/f | bracelet | ブレスレット | 팔찌 | pulseira/f | สร้อยข้อมือ | سوار | Armband | bracciale | bransoletka/f | gelang | vòng tay",
    "brooch": "broche | broche/f | ブローチ | 브로치 | broche | เข็มกลัด | بروش | Brosche | spilla/f | broszka/f | bros | ghim cài áo",
    "anklet": "tobillera/f | chaîne de cheville/f | アンクレット | 발찌 | tornozeleira/f | สร้อยข้อเท้า | خلخال | Fußkettchen | cavigliera/f | bransoletka na kostkę/f | gelang kaki | lắc chân",
    "jewelry set": "conjunto de joyas | parure de bijoux/f | ジュエリーセット | 주얼리 세트 | conjunto de joias | ชุดเครื่องประดับ | طقم مجوهرات | Schmuckset | parure di gioielli/f | komplet biżuterii | set perhiasan | bộ trang sức",
    "quartz watch": "reloj de cuarzo | montre à quartz/f | クオーツ時計 | 쿼츠 시계 | relógio de quartzo | นาฬิกาควอตซ์ | ساعة كوارتز/f | Quarzuhr | orologio al quarzo | zegarek kwarcowy | jam tangan quartz | đồng hồ thạch anh",
    "pocket watch": "reloj de bolsillo | montre de poche/f | 懐中時計 | 회중시계 | relógio de bolso | นาฬิกาพก | ساعة جيب/f | Taschenuhr | orologio da tasca | zegarek kieszonkowy | jam saku | đồng hồ bỏ túi",
    "watch strap": "correa de reloj/f | bracelet de montre | 時計ベルト | 시계줄 | pulseira de relógio/f | สายนาฬิกา | سوار ساعة | Uhrenarmband | cinturino | pasek do zegarka | tali jam | dây đồng hồ",
    # apparel accessories
    "baseball cap": "gorra de béisbol/f | casquette/f | キャップ | 야구모자 | boné | หมวกแก๊ป | قبعة بيسبول/f | Baseballkappe | cappellino da baseball | czapka z daszkiem/f | topi baseball | mũ lưỡi trai",
    "beanie": "gorro | bonnet | ニット帽 | 비니 | gorro de frio | หมวกไหมพรม | طاقية/f | Mütze | berretto | czapka zimowa/f | kupluk | mũ len",
    "sun hat": "sombrero para el sol | chapeau de soleil | 日よけ帽子 | 챙모자 | chapéu de sol | หมวกกันแดด | قبعة شمس/f | Sonnenhut | cappello da sole | kapelusz przeciwsłoneczny | topi pantai | mũ rộng vành",
    "scarf": "bufanda/f | écharpe/f | マフラー | 목도리 | cachecol | ผ้าพันคอ | وشاح | Schal | sciarpa/f | szalik | syal | khăn quàng cổ",
    "gloves": "guantes/mp | gants/mp | 手袋 | 장갑 | luvas/fp | ถุงมือ | قفازات/f | Handschuhe | guanti/mp | rękawiczki/n | sarung tangan | găng tay",
    "belt": "cinturón | ceinture/f | ベルト | 벨트 | cinto | เข็มขัด | حزام | Gürtel | cintura/f | pasek | ikat pinggang | thắt lưng",
    "tie": "corbata/f | cravate/f | ネクタイ | 넥타이 | gravata/f | เนคไท | ربطة عنق/f | Krawatte | cravatta/f | krawat | dasi | cà vạt",
    "sunglasses": "gafas de sol/fp | lunettes de soleil/fp | サングラス | 선글라스 | óculos de sol/mp | แว่นกันแดด | نظارة شمسية/f | Sonnenbrille | occhiali da sole/mp | okulary przeciwsłoneczne/n | kacamata surya | kính râm",
    "glasses frames": "monturas de gafas/fp | montures de lunettes/fp | メガネフレーム | 안경테 | armações de óculos/fp | กรอบแว่นตา | إطار نظارة | Brillengestell | montature per occhiali/fp | oprawki do okularów/n | bingkai kacamata | gọng kính",
    "hair clip": "pinza para el pelo/f | pince à cheveux/f | ヘアクリップ | 집게핀 | presilha de cabelo/f | กิ๊บติดผม | مشبك شعر | Haarspange | fermaglio per capelli | spinka do włosów/f | jepit rambut | kẹp tóc",
    # automobiles, parts & accessories
    "seat cover": "funda de asiento/f | housse de siège/f | シートカバー | 시트커버 | capa de banco/f | ผ้าคลุมเบาะรถยนต์ | غطاء مقعد | Sitzbezug | coprisedile | pokrowiec na siedzenie | sarung jok mobil | bọc ghế ô tô",
    "steering wheel cover": "funda de volante/f | couvre-volant | ハンドルカバー | 핸들커버 | capa de volante/f | ปลอกหุ้มพวงมาลัย | غطاء عجلة القيادة | Lenkradbezug | coprivolante | pokrowiec na kierownicę | sarung setir | bọc vô lăng",
    "car floor mat": "alfombrilla de coche/f | tapis de sol voiture | フロアマット | 자동차 매트 | tapete automotivo | พรมปูพื้นรถยนต์ | دواسة سيارة/f | Autofußmatte | tappetino auto | dywanik samochodowy | karpet mobil | thảm lót sàn ô tô",
    "car phone holder": "soporte de móvil para coche | support téléphone voiture | 車載ホルダー | 차량용 거치대 | suporte de celular veicular | ที่วางโทรศัพท์ในรถ | حامل جوال للسيارة | KFZ-Handyhalterung | supporto smartphone auto | uchwyt telefonu do auta | holder hp mobil | giá đỡ điện thoại ô tô",
    "car cover": "funda para coche/f | bâche voiture/f | カーカバー | 차량 커버 | capa para carro/f | ผ้าคลุมรถยนต์ | غطاء سيارة | Autoabdeckung | telo copriauto | plandeka samochodowa/f | cover mobil | bạt phủ ô tô",
    "dash cam": "cámara para coche/f | caméra embarquée/f | ドライブレコーダー | 블랙박스 | câmera veicular/f | กล้องติดรถยนต์ | كاميرا سيارة/f | Dashcam | telecamera per auto/f | wideorejestrator | kamera mobil | camera hành trình",
    "car charger": "cargador de coche | chargeur voiture | カーチャージャー | 차량용 충전기 | carregador veicular | ที่ชาร์จในรถ | شاحن سيارة | Kfz-Ladegerät | caricatore da auto | ładowarka samochodowa/f | charger mobil | sạc ô tô",
    "tire inflator": "inflador de neumáticos | gonfleur de pneus | タイヤ空気入れ | 타이어 공기주입기 | calibrador de pneus | ที่เติมลมยาง | منفاخ إطارات | Reifenpumpe | compressore per pneumatici | kompresor samochodowy | pompa ban | máy bơm lốp",
    "car wash sponge": "esponja de lavado/f | éponge de lavage/f | 洗車スポンジ | 세차 스펀지 | esponja para lavar carro/f | ฟองน้ำล้างรถ | إسفنجة غسيل سيارات/f | Autowaschschwamm | spugna lavaggio auto/f | gąbka do mycia auta/f | spons cuci mobil | mút rửa xe",
    "headlight bulb": "bombilla de faro/f | ampoule de phare/f | ヘッドライトバルブ | 헤드라이트 전구 | lâmpada de farol/f | หลอดไฟหน้ารถ | لمبة مصباح أمامي/f | Scheinwerferlampe | lampadina faro/f | żarówka do reflektora/f | lampu depan mobil | bóng đèn pha ô tô",
    # motorcycle equipment & parts
    "motorcycle helmet": "casco de moto | casque moto | バイクヘルメット | 오토바이 헬멧 | capacete de moto | หมวกกันน็อค | خوذة دراجة نارية/f | Motorradhelm | casco moto | kask motocyklowy | helm motor | mũ bảo hiểm xe máy",
    "motorcycle jacket": "chaqueta de moto/f | blouson moto | バイクジャケット | 오토바이 자켓 | jaqueta de motoqueiro/f | เสื้อแจ็คเก็ตขี่มอเตอร์ไซค์ | جاكيت دراجة نارية | Motorradjacke | giacca da moto/f | kurtka motocyklowa/f | jaket motor | áo khoác xe máy",
    "motorcycle gloves": "guantes de moto/mp | gants moto/mp | バイクグローブ | 오토바이 장갑 | luvas de moto/fp | ถุงมือขี่มอเตอร์ไซค์ | قفازات دراجة نارية/f | Motorradhandschuhe | guanti da moto/mp | rękawice motocyklowe/n | sarung tangan motor | găng tay xe máy",
    "motorcycle boots": "botas de moto/fp | bottes moto/fp | バイクブーツ | 오토바이 부츠 | botas de motociclista/fp | รองเท้าบูทขี่มอเตอร์ไซค์ | حذاء دراجة نارية | Motorradstiefel | stivali da moto/mp | buty motocyklowe/n | sepatu motor | giày đi xe máy",
    "motorcycle mirror": "espejo retrovisor de moto | rétroviseur moto | バイクミラー | 오토바이 미러 | retrovisor de moto | กระจกมองข้างมอเตอร์ไซค์ | مرآة دراجة نارية/f | Motorradspiegel | specchietto moto | lusterko motocyklowe/n | spion motor | gương xe máy",
    "brake pads": "pastillas de freno/fp | plaquettes de frein/fp | ブレーキパッド | 브레이크 패드 | pastilhas de freio/fp | ผ้าเบรก | فحمات فرامل/f | Bremsbeläge | pastiglie freno/fp | klocki hamulcowe/n | kampas rem | má phanh",
    "exhaust pipe": "tubo de escape | pot d'échappement | 排気管 | 배기관 | escapamento | ท่อไอเสีย | عادم | Auspuff | marmitta/f | tłumik | knalpot | ống xả",
    "motorcycle cover": "funda para moto/f | housse moto/f | バイクカバー | 오토바이 커버 | capa para moto/f | ผ้าคลุมมอเตอร์ไซค์ | غطاء دراجة نارية | Motorradabdeckung | telo coprimoto | pokrowiec na motocykl | cover motor | bạt phủ xe máy",
    "tank bag": "bolsa de depósito/f | sacoche de réservoir/f | タンクバッグ | 탱크백 | bolsa de tanque/f | กระเป๋าถังน้ำมัน | حقيبة خزان/f | Tankrucksack | borsa da serbatoio/f | torba na bak/f | tas tangki | túi bình xăng",
    # home & garden
    "vase": "jarrón | vase | 花瓶 | 꽃병 | vaso de flores | แจกัน | مزهرية/f | Blumenvase | vaso | wazon | vas bunga | bình hoa",
    "wall clock": "reloj de pared | horloge murale/f | 掛け時計 | 벽시계 | relógio de parede | นาฬิกาแขวน | ساعة حائط/f | Wanduhr | orologio da parete | zegar ścienny | jam dinding | đồng hồ treo tường",
    "photo frame": "marco de fotos | cadre photo | フォトフレーム | 액자 | porta-retrato | กรอบรูป | إطار صور | Bilderrahmen | cornice/f | ramka na zdjęcia/f | bingkai foto | khung ảnh",
    "scented candle": "vela aromática/f | bougie parfumée/f | アロマキャンドル | 향초 | vela perfumada/f | เทียนหอม | شمعة معطرة/f | Duftkerze | candela profumata/f | świeca zapachowa/f | lilin aromaterapi | nến thơm",
    "artificial flowers": "flores artificiales/fp | fleurs artificielles/fp | 造花 | 조화 | flores artificiais/fp | ดอกไม้ปลอม | زهور صناعية/f | Kunstblumen | fiori artificiali/mp | sztuczne kwiaty/n | bunga palsu | hoa giả",
    "bedding set": "juego de sábanas | parure de lit/f | 布団カバーセット | 침구 세트 | jogo de cama | ชุดผ้าปูที่นอน | طقم سرير | Bettwäsche-Set | set lenzuola | komplet pościeli | set sprei | bộ chăn ga gối",
    "pillowcase": "funda de almohada/f | taie d'oreiller/f | 枕カバー | 베개커버 | fronha/f | ปลอกหมอน | كيس وسادة | Kissenbezug | federa/f | poszewka na poduszkę/f | sarung bantal | vỏ gối",
    "curtains": "cortinas/fp | rideaux/mp | カーテン | 커튼 | cortinas blackout/fp | ผ้าม่าน | ستائر/f | Vorhänge | tende/fp | zasłony/n | gorden | rèm cửa",
    "bath towel": "toalla de baño/f | serviette de bain/f | バスタオル | 목욕 수건 | toalha de banho/f | ผ้าเช็ดตัว | منشفة حمام/f | Badetuch | telo bagno | ręcznik kąpielowy | handuk mandi | khăn tắm",
    "bird bath": "bebedero para pájaros | bain d'oiseaux | バードバス | 새 물통 | bebedouro para pássaros | อ่างน้ำนก | حوض طيور | Vogeltränke | abbeveratoio per uccelli | poidło dla ptaków/n | tempat mandi burung | bồn tắm chim",
    "flower pot": "maceta/f | pot de fleurs | 植木鉢 | 화분 | vaso de planta | กระถางต้นไม้ | أصيص زرع | Blumentopf | vaso per piante | doniczka/f | pot bunga | chậu hoa",
    "watering can": "regadera/f | arrosoir | じょうろ | 물뿌리개 | regador | บัวรดน้ำ | مرشة/f | Gießkanne | annaffiatoio | konewka/f | gembor | bình tưới cây",
    "garden hose": "manguera de jardín/f | tuyau d'arrosage | ガーデンホース | 정원 호스 | mangueira de jardim/f | สายยางรดน้ำ | خرطوم حديقة | Gartenschlauch | tubo da giardino | wąż ogrodowy | selang taman | vòi tưới vườn",
    # kitchen, dining & bar
    "frying pan": "sartén/f | poêle/f | フライパン | 프라이팬 | frigideira/f | กระทะ | مقلاة/f | Bratpfanne | padella/f | patelnia/f | wajan | chảo chiên",
    "stock pot": "olla/f | marmite/f | 鍋 | 냄비 | panela/f | หม้อ | قدر | Kochtopf | pentola/f | garnek | panci | nồi",
    "wok": "wok | wok | 中華鍋 | 웍 | wok | กระทะจีน | مقلاة صينية/f | Wokpfanne | wok | wok | wajan wok | chảo wok",
    "kitchen knife": "cuchillo de cocina | couteau de cuisine | 包丁 | 식칼 | faca de cozinha/f | มีดทำครัว | سكين مطبخ | Küchenmesser | coltello da cucina | nóż kuchenny | pisau dapur | dao nhà bếp",
    "cutting board": "tabla de cortar/f | planche à découper/f | まな板 | 도마 | tábua de corte/f | เขียง | لوح تقطيع | Schneidebrett | tagliere | deska do krojenia/f | talenan | thớt",
    "vegetable peeler": "pelador de verduras | éplucheur | ピーラー | 필러 | descascador de legumes | ที่ปอกเปลือก | مقشرة خضار/f | Sparschäler | pelapatate | obieraczka/f | pengupas sayur | dụng cụ gọt rau",
    "mug": "taza/f | tasse à café/f | マグカップ | 머그컵 | caneca/f | แก้วมัค | كوب | Kaffeebecher | tazza/f | kubek | gelas mug | cốc",
    "wine glass": "copa de vino/f | verre à vin | ワイングラス | 와인잔 | taça de vinho/f | แก้วไวน์ | كأس نبيذ | Weinglas | calice da vino | kieliszek do wina | gelas anggur | ly rượu vang",
    "water bottle": "botella de agua/f | gourde/f | 水筒 | 물병 | garrafa de água/f | ขวดน้ำ | زجاجة ماء/f | Trinkflasche | borraccia/f | butelka na wodę/f | botol minum | bình nước",
    "dinner plate": "plato llano | assiette plate/f | 平皿 | 접시 | prato raso | จานข้าว | طبق عشاء | Essteller | piatto piano | talerz płaski | piring makan | đĩa ăn",
    "bowl": "cuenco | bol | ボウル | 그릇 | tigela/f | ชาม | وعاء | Schüssel | ciotola/f | miska/f | mangkuk | bát",
    "cocktail shaker": "coctelera/f | shaker à cocktail | カクテルシェーカー | 칵테일 셰이커 | coqueteleira/f | เชคเกอร์ค็อกเทล | شيكر كوكتيل | Cocktailshaker | shaker per cocktail | shaker do koktajli | shaker koktail | bình lắc cocktail",
    # furniture
    "sofa": "sofá | canapé | ソファ | 소파 | sofá | โซฟา | أريكة/f | Sofa | divano | sofa/f | sofa | ghế sofa",
    "coffee table": "mesa de centro/f | table basse/f | ローテーブル | 커피 테이블 | mesa de centro/f | โต๊ะกลาง | طاولة قهوة/f | Couchtisch | tavolino | stolik kawowy | meja kopi | bàn trà",
    "tv stand": "mueble de tv | meuble tv | テレビ台 | TV 거실장 | rack para tv | ชั้นวางทีวี | طاولة تلفزيون/f | TV-Schrank | mobile porta tv | szafka rtv/f | meja tv | kệ tivi",
    "bed frame": "estructura de cama/f | cadre de lit | ベッドフレーム | 침대 프레임 | estrutura de cama/f | โครงเตียง | هيكل سرير | Bettgestell | struttura letto/f | rama łóżka/f | rangka tempat tidur | khung giường",
    "wardrobe": "armario | armoire/f | ワードローブ | 옷장 | guarda-roupa | ตู้เสื้อผ้า | خزانة ملابس/f | Kleiderschrank | armadio | szafa/f | lemari pakaian | tủ quần áo",
    "nightstand": "mesita de noche/f | table de chevet/f | ナイトテーブル | 협탁 | mesa de cabeceira/f | โต๊ะข้างเตียง | كومودينو | Nachttisch | comodino | szafka nocna/f | nakas | tủ đầu giường",
    "office chair": "silla de oficina/f | chaise de bureau/f | オフィスチェア | 사무용 의자 | cadeira de escritório/f | เก้าอี้สำนักงาน | كرسي مكتب | Bürostuhl | sedia da ufficio/f | krzesło biurowe/n | kursi kantor | ghế văn phòng",
    "desk": "escritorio | bureau | デスク | 책상 | escrivaninha/f | โต๊ะทำงาน | مكتب | Schreibtisch | scrivania/f | biurko/n | meja kerja | bàn làm việc",
    "hammock": "hamaca/f | hamac | ハンモック | 해먹 | rede de descanso/f | เปลญวน | أرجوحة شبكية/f | Hängematte | amaca/f | hamak | tempat tidur gantung | võng",
    "garden chair": "silla de jardín/f | chaise de jardin/f | ガーデンチェア | 정원 의자 | cadeira de jardim/f | เก้าอี้สนาม | كرسي حديقة | Gartenstuhl | sedia da giardino/f | krzesło ogrodowe/n | kursi taman | ghế sân vườn",
    "bookshelf": "estantería/f | bibliothèque/f | 本棚 | 책장 | estante de livros/f | ชั้นวางหนังสือ | رف كتب | Bücherregal | libreria/f | regał na książki | rak buku | kệ sách",
    # home appliances
    "blender": "licuadora/f | mixeur | ミキサー | 믹서기 | liquidificador | เครื่องปั่น | خلاط | Standmixer | frullatore | blender kielichowy | blender | máy xay sinh tố",
    "coffee maker": "cafetera/f | cafetière/f | コーヒーメーカー | 커피머신 | cafeteira/f | เครื่องชงกาแฟ | ماكينة قهوة/f | Kaffeemaschine | macchina del caffè/f | ekspres do kawy | mesin kopi | máy pha cà phê",
    "air fryer": "freidora de aire/f | friteuse sans huile/f | ノンフライヤー | 에어프라이어 | fritadeira sem óleo/f | หม้อทอดไร้น้ำมัน | قلاية هوائية/f | Heißluftfritteuse | friggitrice ad aria/f | frytkownica beztłuszczowa/f | penggorengan udara | nồi chiên không dầu",
    "microwave": "microondas | four micro-ondes | 電子レンジ | 전자레인지 | micro-ondas | ไมโครเวฟ | ميكروويف | Mikrowelle | forno a microonde | kuchenka mikrofalowa/f | oven microwave | lò vi sóng",
    "electric kettle": "hervidor eléctrico | bouilloire électrique/f | 電気ケトル | 전기포트 | chaleira elétrica/f | กาต้มน้ำไฟฟ้า | غلاية كهربائية/f | Wasserkocher | bollitore elettrico | czajnik elektryczny | ketel listrik | ấm siêu tốc",
    "rice cooker": "arrocera/f | cuiseur à riz | 炊飯器 | 전기밥솥 | panela de arroz/f | หม้อหุงข้าว | طباخة أرز/f | Reiskocher | cuociriso | ryżowar | penanak nasi | nồi cơm điện",
    "vacuum cleaner": "aspiradora/f | aspirateur | 掃除機 | 청소기 | aspirador de pó | เครื่องดูดฝุ่น | مكنسة كهربائية/f | Staubsauger | aspirapolvere | odkurzacz | penyedot debu | máy hút bụi",
    "robot vacuum": "robot aspirador | aspirateur robot | ロボット掃除機 | 로봇청소기 | robô aspirador | หุ่นยนต์ดูดฝุ่น | مكنسة روبوت/f | Saugroboter | robot aspirapolvere | robot sprzątający | robot penyedot debu | robot hút bụi",
    "hair dryer": "secador de pelo | sèche-cheveux | ドライヤー | 헤어드라이기 | secador de cabelo | ไดร์เป่าผม | مجفف شعر | Haartrockner | asciugacapelli | suszarka do włosów/f | pengering rambut | máy sấy tóc",
    "electric shaver": "afeitadora eléctrica/f | rasoir électrique | 電気シェーバー | 전기면도기 | barbeador elétrico | เครื่องโกนหนวดไฟฟ้า | ماكينة حلاقة/f | Rasierapparat | rasoio elettrico | golarka elektryczna/f | alat cukur elektrik | máy cạo râu",
    "electric fan": "ventilador eléctrico | ventilateur | 扇風機 | 선풍기 | ventilador de mesa | พัดลม | مروحة/f | Ventilator | ventilatore | wentylator | kipas angin | quạt điện",
    "air purifier": "purificador de aire | purificateur d'air | 空気清浄機 | 공기청정기 | purificador de ar | เครื่องฟอกอากาศ | منقي هواء | Luftreiniger | purificatore d'aria | oczyszczacz powietrza | pembersih udara | máy lọc không khí",
    "humidifier": "humidificador | humidificateur | 加湿器 | 가습기 | umidificador | เครื่องเพิ่มความชื้น | مرطب هواء | Luftbefeuchter | umidificatore | nawilżacz powietrza | pelembap udara | máy tạo độ ẩm",
    # consumer electronics
    "headphones": "auriculares de diadema/mp | casque audio | ヘッドホン | 헤드폰 | fones de ouvido/mp | หูฟังครอบหู | سماعات رأس/f | Kopfhörer | cuffie/fp | słuchawki nauszne/n | headphone | tai nghe chụp tai",
    "wireless earbuds": "auriculares inalámbricos/mp | écouteurs sans fil/mp | ワイヤレスイヤホン | 무선 이어폰 | fones sem fio/mp | หูฟังไร้สาย | سماعات لاسلكية/f | kabellose Ohrhörer | auricolari wireless/mp | słuchawki bezprzewodowe/n | earbuds wireless | tai nghe không dây",
    "bluetooth speaker": "altavoz bluetooth | enceinte bluetooth/f | ブルートゥーススピーカー | 블루투스 스피커 | caixa de som bluetooth/f | ลำโพงบลูทูธ | مكبر صوت بلوتوث | Bluetooth-Lautsprecher | cassa bluetooth/f | głośnik bluetooth | speaker bluetooth | loa bluetooth",
    "digital camera": "cámara digital/f | appareil photo numérique | デジタルカメラ | 디지털 카메라 | câmera digital/f | กล้องดิจิตอล | كاميرا رقمية/f | Digitalkamera | fotocamera digitale/f | aparat cyfrowy | kamera digital | máy ảnh kỹ thuật số",
    "tripod": "trípode | trépied | 三脚 | 삼각대 | tripé | ขาตั้งกล้อง | حامل ثلاثي | Stativ | treppiede | statyw | tripod kamera | chân máy ảnh",
    "action camera": "cámara deportiva/f | caméra d'action/f | アクションカメラ | 액션캠 | câmera de ação/f | กล้องแอคชั่น | كاميرا أكشن/f | Actioncam | videocamera sportiva/f | kamera sportowa/f | kamera aksi | camera hành động",
    "smartwatch": "reloj inteligente | montre connectée/f | スマートウォッチ | 스마트워치 | relógio inteligente | สมาร์ทวอทช์ | ساعة ذكية/f | Smartwatch | orologio smart | smartwatch | jam tangan pintar | đồng hồ thông minh",
    "fitness tracker": "pulsera de actividad/f | bracelet connecté | 活動量計 | 스마트밴드 | pulseira inteligente/f | สายรัดข้อมือฟิตเนส | سوار لياقة | Fitnessarmband | braccialetto fitness | opaska sportowa/f | gelang pintar | vòng đeo tay thông minh",
    "projector": "proyector | vidéoprojecteur | プロジェクター | 프로젝터 | projetor | โปรเจคเตอร์ | جهاز عرض | Beamer | proiettore | projektor | proyektor | máy chiếu",
    "tv box": "tv box android | box tv android/f | テレビボックス | 셋톱박스 | tv box android | กล่องแอนดรอยด์ทีวี | صندوق تلفزيون | TV-Box | tv box android | przystawka smart tv/f | set top box android | tivi box",
    "game controller": "mando de juegos | manette de jeu/f | ゲームコントローラー | 게임 컨트롤러 | controle de videogame | จอยเกม | يد تحكم/f | Gamecontroller | controller per videogiochi | kontroler do gier | stik game | tay cầm chơi game",
    # computer & office
    "laptop": "portátil | ordinateur portable | ノートパソコン | 노트북 | notebook | แล็ปท็อป | لابتوب | Laptop | portatile | laptop | laptop | máy tính xách tay",
    "tablet": "tableta/f | tablette/f | タブレット | 태블릿 | tablet | แท็บเล็ต | تابلت | Tablet | tablet | tablet | tablet | máy tính bảng",
    "keyboard": "teclado | clavier | キーボード | 키보드 | teclado | คีย์บอร์ด | لوحة مفاتيح/f | Tastatur | tastiera/f | klawiatura/f | keyboard | bàn phím",
    "mouse": "ratón | souris/f | マウス | 마우스 | mouse | เมาส์ | فأرة/f | Maus | mouse | myszka/f | mouse | chuột máy tính",
    "monitor": "monitor | écran pc | モニター | 모니터 | monitor | จอมอนิเตอร์ | شاشة/f | Monitor | monitor | monitor | monitor | màn hình máy tính",
    "webcam": "cámara web/f | webcam/f | ウェブカメラ | 웹캠 | webcam/f | เว็บแคม | كاميرا ويب/f | Webcam | webcam/f | kamera internetowa/f | webcam | webcam",
    "usb flash drive": "memoria usb/f | clé usb/f | USBメモリ | USB 메모리 | pen drive | แฟลชไดร์ฟ | فلاشة/f | USB-Stick | chiavetta usb/f | pendrive | flashdisk | usb",
    "external hard drive": "disco duro externo | disque dur externe | 外付けハードディスク | 외장하드 | hd externo | ฮาร์ดดิสก์พกพา | هارد ديسك خارجي | externe Festplatte | hard disk esterno | dysk zewnętrzny | hardisk eksternal | ổ cứng di động",
    "memory card": "tarjeta de memoria/f | carte mémoire/f | SDカード | 메모리카드 | cartão de memória | เมมโมรี่การ์ด | بطاقة ذاكرة/f | Speicherkarte | scheda di memoria/f | karta pamięci/f | kartu memori | thẻ nhớ",
    "wifi router": "router wifi | routeur wifi | 無線LANルーター | 와이파이 공유기 | roteador wifi | เราเตอร์ไวไฟ | راوتر واي فاي | WLAN-Router | router wifi | router wifi | router wifi | bộ phát wifi",
    "laptop stand": "soporte para portátil | support ordinateur portable | ノートパソコンスタンド | 노트북 거치대 | suporte para notebook | ขาตั้งแล็ปท็อป | حامل لابتوب | Laptopständer | supporto per laptop | podstawka pod laptopa/f | stand laptop | giá đỡ laptop",
    # cellphones & telecommunications
    "smartphone": "teléfono móvil | téléphone portable | スマートフォン | 스마트폰 | celular | สมาร์ทโฟน | هاتف ذكي | Handy | cellulare | smartfon | ponsel | điện thoại thông minh",
    "phone case": "funda de móvil/f | coque de téléphone/f | スマホケース | 휴대폰 케이스 | capinha de celular/f | เคสโทรศัพท์ | جراب هاتف | Handyhülle | cover per cellulare/f | etui na telefon/n | casing hp | ốp lưng điện thoại",
    "screen protector": "protector de pantalla | protection d'écran/f | 保護フィルム | 액정보호필름 | película protetora/f | ฟิล์มกันรอย | واقي شاشة | Displayschutzfolie | pellicola protettiva/f | szkło hartowane/n | pelindung layar | kính cường lực",
    "phone charger": "cargador de móvil | chargeur de téléphone | スマホ充電器 | 휴대폰 충전기 | carregador de celular | ที่ชาร์จโทรศัพท์ | شاحن جوال | Handy-Ladegerät | caricabatterie per cellulare | ładowarka do telefonu/f | charger hp | củ sạc điện thoại",
    "charging cable": "cable de carga | câble de charge | 充電ケーブル | 충전 케이블 | cabo carregador | สายชาร์จ | كابل شحن | Ladekabel | cavo di ricarica | kabel do ładowania | kabel charger | cáp sạc",
    "power bank": "batería externa/f | batterie externe/f | モバイルバッテリー | 보조배터리 | carregador portátil | พาวเวอร์แบงค์ | باور بانك | Powerbank | batteria portatile/f | powerbank | power bank | sạc dự phòng",
    "selfie stick": "palo selfie | perche à selfie/f | 自撮り棒 | 셀카봉 | pau de selfie | ไม้เซลฟี่ | عصا سيلفي/f | Selfie-Stick | bastone per selfie | kijek do selfie | tongsis | gậy chụp ảnh",
    "walkie talkie": "walkie talkie | talkie-walkie | トランシーバー | 무전기 | rádio comunicador | วิทยุสื่อสาร | جهاز لاسلكي | Walkie-Talkie | ricetrasmittente/f | krótkofalówka/f | handy talky | bộ đàm",
    "replacement screen": "pantalla de repuesto/f | écran de remplacement | 交換用液晶 | 교체용 액정 | tela de reposição/f | หน้าจอมือถือ | شاشة بديلة/f | Ersatzdisplay | schermo di ricambio | wyświetlacz zamienny | lcd pengganti | màn hình thay thế",
    # beauty & health
    "lipstick": "pintalabios | rouge à lèvres | 口紅 | 립스틱 | batom | ลิปสติก | أحمر شفاه | Lippenstift | rossetto | szminka/f | lipstik | son môi",
    "lip gloss": "brillo de labios | gloss à lèvres | リップグロス | 립글로스 | gloss labial | ลิปกลอส | ملمع شفاه | Lipgloss | lucidalabbra | błyszczyk | lip gloss | son bóng",
    "mascara": "máscara de pestañas/f | mascara | マスカラ | 마스카라 | rímel | มาสคาร่า | ماسكارا/f | Wimperntusche | mascara | tusz do rzęs | maskara | mascara",
    "eyeliner": "delineador de ojos | eye-liner | アイライナー | 아이라이너 | delineador | อายไลเนอร์ | كحل | Eyeliner | eyeliner | eyeliner | eyeliner | kẻ mắt",
    "foundation": "base de maquillaje/f | fond de teint | ファンデーション | 파운데이션 | base líquida/f | รองพื้น | كريم أساس | Foundation | fondotinta | podkład | alas bedak | kem nền",
    "makeup brush": "brocha de maquillaje/f | pinceau de maquillage | メイクブラシ | 메이크업 브러쉬 | pincel de maquiagem | แปรงแต่งหน้า | فرشاة مكياج/f | Make-up-Pinsel | pennello trucco | pędzel do makijażu | kuas makeup | cọ trang điểm",
    "face cream": "crema facial/f | crème visage/f | フェイスクリーム | 페이스 크림 | creme facial | ครีมบำรุงผิวหน้า | كريم وجه | Gesichtscreme | crema viso/f | krem do twarzy | krim wajah | kem dưỡng da mặt",
    "sunscreen": "protector solar | crème solaire/f | 日焼け止め | 선크림 | protetor solar | ครีมกันแดด | واقي شمس | Sonnencreme | crema solare/f | krem z filtrem | tabir surya | kem chống nắng",
    "sheet mask": "mascarilla facial/f | masque visage | シートマスク | 마스크팩 | máscara facial/f | มาส์กหน้า | قناع وجه | Tuchmaske | maschera viso/f | maseczka w płachcie/f | masker wajah | mặt nạ giấy",
    "nail polish": "esmalte de uñas | vernis à ongles | マニキュア | 매니큐어 | esmalte | ยาทาเล็บ | طلاء أظافر | Nagellack | smalto per unghie | lakier do paznokci | kutek | sơn móng tay",
    "perfume": "perfume | parfum | 香水 | 향수 | perfume importado | น้ำหอม | عطر | Parfüm | profumo | perfumy/n | parfum | nước hoa",
    # sports & entertainment
    "yoga mat": "esterilla de yoga/f | tapis de yoga | ヨガマット | 요가매트 | tapete de yoga | เสื่อโยคะ | حصيرة يوغا/f | Yogamatte | tappetino yoga | mata do jogi/f | matras yoga | thảm tập yoga",
    "dumbbell": "mancuerna/f | haltère | ダンベル | 덤벨 | halter | ดัมเบล | دمبل | Hantel | manubrio | hantle/n | dumbel | tạ tay",
    "resistance band": "banda elástica/f | bande élastique/f | トレーニングチューブ | 저항밴드 | faixa elástica/f | ยางยืดออกกำลังกาย | حبل مقاومة | Widerstandsband | elastico fitness | guma oporowa/f | tali resistensi | dây kháng lực",
    "jump rope": "comba/f | corde à sauter/f | 縄跳び | 줄넘기 | corda de pular/f | เชือกกระโดด | حبل قفز | Springseil | corda per saltare/f | skakanka/f | tali skipping | dây nhảy",
    "bicycle": "bicicleta/f | vélo | 自転車 | 자전거 | bicicleta aro 29/f | จักรยาน | دراجة هوائية/f | Fahrrad | bicicletta/f | rower | sepeda | xe đạp",
    "bike helmet": "casco de bicicleta | casque de vélo | 自転車ヘルメット | 자전거 헬멧 | capacete de bicicleta | หมวกจักรยาน | خوذة دراجة/f | Fahrradhelm | casco da bici | kask rowerowy | helm sepeda | mũ bảo hiểm xe đạp",
    "bike light": "luz de bicicleta/f | éclairage vélo | 自転車ライト | 자전거 라이트 | farol de bicicleta | ไฟจักรยาน | ضوء دراجة | Fahrradlicht | luce per bici/f | lampka rowerowa/f | lampu sepeda | đèn xe đạp",
    "tent": "tienda de campaña/f | tente/f | テント | 텐트 | barraca de camping/f | เต็นท์ | خيمة/f | Zelt | tenda da campeggio/f | namiot | tenda camping | lều cắm trại",
    "sleeping bag": "saco de dormir | sac de couchage | 寝袋 | 침낭 | saco de dormir | ถุงนอน | كيس نوم | Schlafsack | sacco a pelo | śpiwór | kantong tidur | túi ngủ",
    "trekking poles": "bastones de trekking/mp | bâtons de randonnée/mp | トレッキングポール | 등산스틱 | bastões de caminhada/mp | ไม้เท้าเดินป่า | عصي المشي/f | Wanderstöcke | bastoncini da trekking/mp | kijki trekkingowe/n | tongkat hiking | gậy leo núi",
    "fishing rod": "caña de pescar/f | canne à pêche/f | 釣り竿 | 낚싯대 | vara de pesca/f | คันเบ็ด | قصبة صيد/f | Angelrute | canna da pesca/f | wędka/f | joran pancing | cần câu",
    "fishing reel": "carrete de pesca | moulinet de pêche | 釣りリール | 낚시 릴 | molinete de pesca | รอกตกปลา | بكرة صيد/f | Angelrolle | mulinello da pesca | kołowrotek | reel pancing | máy câu cá",
    "soccer ball": "balón de fútbol | ballon de foot | サッカーボール | 축구공 | bola de futebol/f | ลูกฟุตบอล | كرة قدم/f | Fußball | pallone da calcio | piłka nożna/f | bola sepak | quả bóng đá",
    "basketball": "balón de baloncesto | ballon de basket | バスケットボール | 농구공 | bola de basquete/f | ลูกบาสเกตบอล | كرة سلة/f | Basketball | pallone da basket | piłka do koszykówki/f | bola basket | quả bóng rổ",
    "swim goggles": "gafas de natación/fp | lunettes de natation/fp | スイミングゴーグル | 수경 | óculos de natação/mp | แว่นตาว่ายน้ำ | نظارة سباحة/f | Schwimmbrille | occhialini da nuoto/mp | okulary pływackie/n | kacamata renang | kính bơi",
    "sports bra": "sujetador deportivo | brassière de sport/f | スポーツブラ | 스포츠 브라 | top esportivo | สปอร์ตบรา | حمالة صدر رياضية/f | Sport-BH | reggiseno sportivo | stanik sportowy | bra olahraga | áo ngực thể thao",
    # mother & kids
    "baby romper": "pelele | barboteuse/f | ベビーロンパース | 아기 우주복 | macacão de bebê | บอดี้สูทเด็ก | بدلة رضيع/f | Strampler | tutina/f | pajacyk | baju kodok bayi | bộ body cho bé",
    "bib": "babero | bavoir | スタイ | 턱받이 | babador | ผ้ากันเปื้อนเด็ก | مريلة أطفال/f | Lätzchen | bavaglino | śliniak | slaber | yếm ăn",
    "baby bottle": "biberón | biberon | 哺乳瓶 | 젖병 | mamadeira/f | ขวดนม | رضاعة/f | Babyflasche | biberon anticolica | butelka dla niemowląt/f | botol susu | bình sữa",
    "pacifier": "chupete | tétine/f | おしゃぶり | 공갈젖꼭지 | chupeta/f | จุกนมหลอก | لهاية/f | Schnuller | ciuccio | smoczek | dot bayi | núm vú giả",
    "high chair": "trona/f | chaise haute/f | ベビーチェア | 아기 식탁의자 | cadeira de alimentação/f | เก้าอี้กินข้าวเด็ก | كرسي أطفال | Hochstuhl | seggiolone | krzesełko do karmienia/n | kursi makan bayi | ghế ăn dặm",
    "stroller": "cochecito | poussette/f | ベビーカー | 유모차 | carrinho de bebê | รถเข็นเด็ก | عربة أطفال/f | Kinderwagen | passeggino | wózek dziecięcy | kereta dorong bayi | xe đẩy em bé",
    "baby carrier": "mochila portabebés/f | porte-bébé | 抱っこ紐 | 아기띠 | canguru para bebê | เป้อุ้มเด็ก | حاملة أطفال/f | Babytrage | portabebè | nosidełko/n | gendongan bayi | địu em bé",
    "diapers": "pañales/mp | couches/fp | おむつ | 기저귀 | fraldas/fp | ผ้าอ้อม | حفاضات/f | Windeln | pannolini/mp | pieluchy/n | popok | tã",
    "baby monitor": "vigilabebés | babyphone vidéo | ベビーモニター | 베이비 모니터 | babá eletrônica/f | เบบี้มอนิเตอร์ | جهاز مراقبة الأطفال | Babyphone | baby monitor | niania elektroniczna/f | monitor bayi | máy báo khóc",
    "raincoat": "impermeable | imperméable | レインコート | 우비 | capa de chuva/f | เสื้อกันฝน | معطف مطر | Regenmantel | impermeabile | płaszcz przeciwdeszczowy | jas hujan | áo mưa",
    # toys & hobbies
    "plush toy": "peluche | peluche/f | ぬいぐるみ | 봉제인형 | pelúcia/f | ตุ๊กตาผ้า | دمية محشوة/f | Plüschtier | pupazzo di peluche | pluszak | boneka plush | gấu bông",
    "doll": "muñeca/f | poupée/f | 人形 | 인형 | boneca/f | ตุ๊กตา | دمية/f | Puppe | bambola/f | lalka/f | boneka bayi | búp bê",
    "building blocks": "bloques de construcción/mp | jeu de construction | ブロック玩具 | 블록 장난감 | blocos de montar/mp | ตัวต่อ | مكعبات بناء/f | Bausteine | mattoncini/mp | klocki/n | mainan balok | đồ chơi lắp ráp",
    "jigsaw puzzle": "rompecabezas | puzzle | ジグソーパズル | 직소퍼즐 | quebra-cabeça | จิ๊กซอว์ | لغز بازل | Puzzle | puzzle | puzzle/n | puzzle | tranh ghép hình",
    "board game": "juego de mesa | jeu de société | ボードゲーム | 보드게임 | jogo de tabuleiro | บอร์ดเกม | لعبة لوحية/f | Brettspiel | gioco da tavolo | gra planszowa/f | permainan papan | trò chơi bàn cờ",
    "rc car": "coche teledirigido | voiture télécommandée/f | ラジコンカー | RC카 | carrinho de controle remoto | รถบังคับ | سيارة تحكم عن بعد/f | RC-Auto | macchina telecomandata/f | samochód zdalnie sterowany | mobil remote control | xe điều khiển từ xa",
    "drone": "dron | drone | ドローン | 드론 | drone | โดรน | طائرة درون/f | Drohne | drone | dron | drone | flycam",
    "kite": "cometa/f | cerf-volant | 凧 | 연 | pipa/f | ว่าว | طائرة ورقية/f | Drachen | aquilone | latawiec | layang-layang | diều",
    "water gun": "pistola de agua/f | pistolet à eau | 水鉄砲 | 물총 | pistola de água/f | ปืนฉีดน้ำ | مسدس ماء | Wasserpistole | pistola ad acqua/f | pistolet na wodę | pistol air | súng nước",
    "action figure": "figura de acción/f | figurine/f | フィギュア | 피규어 | boneco de ação | ฟิกเกอร์ | مجسم أكشن | Actionfigur | action figure/f | figurka akcji/f | action figure | mô hình nhân vật",
    "model kit": "kit de modelismo | maquette/f | プラモデル | 프라모델 | kit de modelismo | โมเดลประกอบ | مجسم للتركيب | Modellbausatz | modellino da costruire | model do sklejania | model kit | mô hình lắp ráp",
    # tools
    "cordless drill": "taladro inalámbrico | perceuse sans fil/f | 電動ドリル | 무선 드릴 | furadeira sem fio/f | สว่านไร้สาย | مثقاب لاسلكي | Akkubohrschrauber | trapano avvitatore | wiertarka akumulatorowa/f | bor listrik | máy khoan",
    "angle grinder": "amoladora/f | meuleuse/f | グラインダー | 그라인더 | esmerilhadeira/f | เครื่องเจียร | صاروخ جلخ | Winkelschleifer | smerigliatrice/f | szlifierka kątowa/f | gerinda | máy mài góc",
    "electric screwdriver": "destornillador eléctrico | tournevis électrique | 電動ドライバー | 전동 드라이버 | parafusadeira/f | ไขควงไฟฟ้า | مفك كهربائي | Elektroschrauber | avvitatore elettrico | wkrętarka/f | obeng listrik | tua vít điện",
    "hammer": "martillo | marteau | ハンマー | 망치 | martelo | ค้อน | مطرقة/f | Hammer | martello | młotek | palu | búa",
    "wrench": "llave inglesa/f | clé à molette/f | スパナ | 스패너 | chave inglesa/f | ประแจ | مفتاح ربط | Schraubenschlüssel | chiave inglese/f | klucz płaski | kunci inggris | cờ lê",
    "screwdriver set": "juego de destornilladores | jeu de tournevis | ドライバーセット | 드라이버 세트 | jogo de chaves de fenda | ชุดไขควง | طقم مفكات | Schraubendreher-Set | set di cacciaviti | zestaw wkrętaków | set obeng | bộ tua vít",
    "pliers": "alicates/mp | pince universelle/f | ペンチ | 펜치 | alicate | คีม | كماشة/f | Zange | pinza/f | szczypce/n | tang | kìm",
    "tape measure": "cinta métrica/f | mètre ruban | メジャー | 줄자 | trena/f | ตลับเมตร | شريط قياس | Maßband | metro a nastro | miara zwijana/f | meteran | thước dây",
    "multimeter": "multímetro | multimètre | デジタルマルチメーター | 멀티미터 | multímetro digital | มัลติมิเตอร์ | ملتيميتر | Multimeter | multimetro | multimetr | multitester | đồng hồ vạn năng",
    "laser level": "nivel láser | niveau laser | レーザー墨出し器 | 레이저 레벨기 | nível a laser | เลเซอร์วัดระดับ | ميزان ليزر | Kreuzlinienlaser | livella laser/f | poziomica laserowa/f | waterpass laser | máy cân bằng laser",
    "toolbox": "caja de herramientas/f | boîte à outils/f | 工具箱 | 공구함 | caixa de ferramentas/f | กล่องเครื่องมือ | صندوق أدوات | Werkzeugkasten | cassetta degli attrezzi/f | skrzynka narzędziowa/f | kotak perkakas | hộp đựng đồ nghề",
    "soldering iron": "soldador | fer à souder | はんだごて | 인두기 | ferro de solda | หัวแร้ง | كاوية لحام/f | Lötkolben | saldatore | lutownica/f | solder listrik | mỏ hàn",
    # home improvement
    "shower head": "alcachofa de ducha/f | pommeau de douche | シャワーヘッド | 샤워기 헤드 | chuveiro | ฝักบัว | رأس دش | Duschkopf | soffione doccia | słuchawka prysznicowa/f | kepala shower | vòi sen",
    "kitchen faucet": "grifo de cocina | robinet de cuisine | キッチン水栓 | 주방 수전 | torneira de cozinha/f | ก๊อกน้ำอ่างล้างจาน | حنفية مطبخ/f | Küchenarmatur | rubinetto cucina | bateria kuchenna/f | kran dapur | vòi rửa chén",
    "toilet seat": "tapa de inodoro/f | abattant wc | 便座 | 변기 커버 | assento sanitário | ฝารองนั่งชักโครก | غطاء مرحاض | WC-Sitz | copriwater | deska sedesowa/f | dudukan toilet | nắp bồn cầu",
    "power strip": "regleta/f | multiprise/f | 電源タップ | 멀티탭 | filtro de linha | ปลั๊กพ่วง | مشترك كهرباء | Steckdosenleiste | ciabatta elettrica/f | listwa zasilająca/f | stop kontak | ổ cắm điện",
    "light switch": "interruptor de luz | interrupteur | 照明スイッチ | 전등 스위치 | interruptor de parede | สวิตช์ไฟ | مفتاح إضاءة | Lichtschalter | interruttore | włącznik światła | saklar lampu | công tắc đèn",
    "door handle": "manija de puerta/f | poignée de porte/f | ドアノブ | 문손잡이 | maçaneta/f | มือจับประตู | مقبض باب | Türgriff | maniglia/f | klamka/f | gagang pintu | tay nắm cửa",
    "wall hook": "gancho de pared | crochet mural | 壁掛けフック | 벽걸이 후크 | gancho de parede | ตะขอติดผนัง | علاقة جدار/f | Wandhaken | gancio da parete | haczyk ścienny | gantungan dinding | móc treo tường",
    "paint brush": "brocha de pintura/f | pinceau de peinture | ペンキ刷毛 | 페인트 붓 | pincel de pintura | แปรงทาสี | فرشاة دهان/f | Malerpinsel | pennello per pittura | pędzel malarski | kuas cat | cọ sơn",
    "paint roller": "rodillo de pintura | rouleau à peinture | ペイントローラー | 페인트 롤러 | rolo de pintura | ลูกกลิ้งทาสี | رولة دهان/f | Farbroller | rullo per pittura | wałek malarski | roll cat | con lăn sơn",
    "wallpaper": "papel pintado | papier peint | 壁紙 | 벽지 | papel de parede | วอลเปเปอร์ | ورق جدران | Tapete | carta da parati/f | tapeta/f | kertas dinding | giấy dán tường",
    # lights & lighting
    "ceiling light": "lámpara de techo/f | plafonnier | シーリングライト | 천장등 | luminária de teto/f | โคมไฟเพดาน | مصباح سقف | Deckenleuchte | plafoniera/f | lampa sufitowa/f | lampu plafon | đèn ốp trần",
    "pendant light": "lámpara colgante/f | suspension luminaire/f | ペンダントライト | 펜던트 조명 | pendente de teto | โคมไฟแขวน | ثريا معلقة/f | Pendelleuchte | lampadario a sospensione | lampa wisząca/f | lampu gantung | đèn thả",
    "table lamp": "lámpara de mesa/f | lampe de table/f | テーブルランプ | 탁상 스탠드 | abajur | โคมไฟตั้งโต๊ะ | مصباح طاولة | Tischlampe | lampada da tavolo/f | lampa biurkowa/f | lampu meja | đèn bàn",
    "floor lamp": "lámpara de pie/f | lampadaire | フロアランプ | 장스탠드 | luminária de chão/f | โคมไฟตั้งพื้น | مصباح أرضي | Stehlampe | lampada da terra/f | lampa stojąca/f | lampu lantai | đèn cây",
    "wall lamp": "aplique de pared | applique murale/f | ブラケットライト | 벽등 | arandela/f | โคมไฟติดผนัง | مصباح جداري | Wandleuchte | applique/f | kinkiet | lampu dinding | đèn tường",
    "solar light": "luz solar/f | lampe solaire/f | ソーラーライト | 태양광 조명 | luminária solar/f | ไฟโซล่าเซลล์ | مصباح شمسي | Solarleuchte | lampada solare/f | lampa solarna/f | lampu tenaga surya | đèn năng lượng mặt trời",
    "fairy lights": "guirnalda de luces/f | guirlande lumineuse/f | イルミネーションライト | 앵두전구 | pisca-pisca | ไฟกระพริบ | أضواء زينة/f | Lichterkette | catena luminosa/f | lampki choinkowe/n | lampu tumblr | đèn dây trang trí",
    "led strip": "tira led/f | ruban led | LEDテープ | LED 스트립 | fita led/f | ไฟเส้น led | شريط ليد | LED-Streifen | striscia led/f | taśma led/f | lampu strip led | đèn led dây",
    "led bulb": "bombilla led/f | ampoule led/f | LED電球 | LED 전구 | lâmpada led/f | หลอดไฟ led | لمبة ليد/f | LED-Lampe | lampadina led/f | żarówka led/f | bohlam led | bóng đèn led",
    "flashlight": "linterna/f | lampe torche/f | 懐中電灯 | 손전등 | lanterna/f | ไฟฉาย | كشاف | Taschenlampe | torcia/f | latarka/f | senter | đèn pin",
    "night light": "luz nocturna/f | veilleuse/f | ナイトライト | 수면등 | luz noturna/f | ไฟกลางคืน | ضوء ليلي | Nachtlicht | luce notturna/f | lampka nocna/f | lampu tidur | đèn ngủ",
    # security & protection
    "security camera": "cámara de seguridad/f | caméra de surveillance/f | 防犯カメラ | CCTV 카메라 | câmera de segurança/f | กล้องวงจรปิด | كاميرا مراقبة/f | Überwachungskamera | telecamera di sicurezza/f | kamera monitoringu/f | kamera cctv | camera an ninh",
    "video doorbell": "timbre con cámara | sonnette vidéo/f | インターホン | 비디오 도어벨 | campainha com câmera/f | กริ่งประตูมีกล้อง | جرس باب بالفيديو | Video-Türklingel | videocitofono | wideodomofon | bel pintu kamera | chuông cửa có hình",
    "safe": "caja fuerte/f | coffre-fort | 金庫 | 금고 | cofre | ตู้เซฟ | خزنة/f | Tresor | cassaforte/f | sejf | brankas | két sắt",
    "smart lock": "cerradura inteligente/f | serrure connectée/f | スマートロック | 스마트 도어락 | fechadura digital/f | กลอนประตูดิจิตอล | قفل ذكي | elektronisches Türschloss | serratura smart/f | zamek elektroniczny | kunci pintu digital | khóa cửa thông minh",
    "padlock": "candado | cadenas | 南京錠 | 자물쇠 | cadeado | กุญแจล็อค | قفل | Vorhängeschloss | lucchetto | kłódka/f | gembok | ổ khóa",
    "fire extinguisher": "extintor | extincteur | 消火器 | 소화기 | extintor de incêndio | ถังดับเพลิง | طفاية حريق/f | Feuerlöscher | estintore | gaśnica/f | alat pemadam api | bình chữa cháy",
    "smoke detector": "detector de humo | détecteur de fumée | 火災報知器 | 화재감지기 | detector de fumaça | เครื่องตรวจจับควัน | كاشف دخان | Rauchmelder | rilevatore di fumo | czujnik dymu | detektor asap | máy báo khói",
    "safety glasses": "gafas de seguridad/fp | lunettes de protection/fp | 保護メガネ | 보안경 | óculos de proteção/mp | แว่นตานิรภัย | نظارة واقية/f | Schutzbrille | occhiali protettivi/mp | okulary ochronne/n | kacamata safety | kính bảo hộ",
    "work gloves": "guantes de trabajo/mp | gants de travail/mp | 作業用手袋 | 작업장갑 | luvas de trabalho/fp | ถุงมือช่าง | قفازات عمل/f | Arbeitshandschuhe | guanti da lavoro/mp | rękawice robocze/n | sarung tangan kerja | găng tay bảo hộ",
    "hard hat": "casco de obra | casque de chantier | 工事用ヘルメット | 안전모 | capacete de segurança | หมวกนิรภัย | خوذة أمان/f | Schutzhelm | elmetto da cantiere | kask budowlany | helm proyek | mũ bảo hộ",
    # office & school supplies
    "ballpoint pen": "bolígrafo | stylo bille | ボールペン | 볼펜 | caneta esferográfica/f | ปากกาลูกลื่น | قلم حبر جاف | Kugelschreiber | penna a sfera/f | długopis | pulpen | bút bi",
    "pencil": "lápiz | crayon à papier | 鉛筆 | 연필 | lápis | ดินสอ | قلم رصاص | Bleistift | matita/f | ołówek | pensil | bút chì",
    "highlighter": "rotulador fluorescente | surligneur | 蛍光ペン | 형광펜 | marca-texto | ปากกาเน้นข้อความ | قلم تحديد | Textmarker | evidenziatore | zakreślacz | stabilo | bút dạ quang",
    "spiral notebook": "cuaderno | cahier | ノート | 공책 | caderno | สมุดโน้ต | دفتر | Notizbuch | quaderno | zeszyt | buku tulis | vở",
    "pencil case": "estuche | trousse/f | ペンケース | 필통 | estojo | กล่องดินสอ | مقلمة/f | Federmäppchen | astuccio | piórnik | kotak pensil | hộp bút",
    "stapler": "grapadora/f | agrafeuse/f | ホッチキス | 스테이플러 | grampeador | ที่เย็บกระดาษ | دباسة/f | Hefter | spillatrice/f | zszywacz | stapler | dập ghim",
    "desk organizer": "organizador de escritorio | organiseur de bureau | デスクオーガナイザー | 책상 정리함 | organizador de mesa | ที่ใส่ของบนโต๊ะ | منظم مكتب | Schreibtisch-Organizer | organizer da scrivania | organizer na biurko | rak organizer meja | kệ để bàn",
    "calculator": "calculadora/f | calculatrice/f | 電卓 | 계산기 | calculadora científica/f | เครื่องคิดเลข | آلة حاسبة/f | Taschenrechner | calcolatrice/f | kalkulator | kalkulator | máy tính cầm tay",
    "watercolor paint": "acuarelas/fp | peinture aquarelle/f | 水彩絵の具 | 수채화 물감 | aquarela/f | สีน้ำ | ألوان مائية/f | Aquarellfarbe | acquerelli/mp | farby akwarelowe/n | cat air | màu nước",
    "sketchbook": "cuaderno de dibujo | carnet de croquis | スケッチブック | 스케치북 | caderno de desenho | สมุดวาดเขียน | دفتر رسم | Skizzenbuch | album da disegno | szkicownik | buku sketsa | sổ phác thảo",
    "adhesive tape": "cinta adhesiva/f | ruban adhésif | セロハンテープ | 스카치테이프 | fita adesiva/f | เทปใส | شريط لاصق | Klebeband | nastro adesivo | taśma klejąca/f | selotip | băng keo",
    # pet products
    "dog collar": "collar para perro | collier pour chien | 犬の首輪 | 강아지 목걸이 | coleira para cachorro/f | ปลอกคอสุนัข | طوق كلب | Hundehalsband | collare per cane | obroża dla psa/f | kalung anjing | vòng cổ chó",
    "dog leash": "correa para perro/f | laisse pour chien/f | 犬のリード | 강아지 리드줄 | guia para cachorro/f | สายจูงสุนัข | مقود كلب | Hundeleine | guinzaglio | smycz dla psa/f | tali anjing | dây dắt chó",
    "dog bed": "cama para perro/f | panier pour chien | 犬用ベッド | 강아지 방석 | caminha de cachorro/f | ที่นอนสุนัข | سرير كلب | Hundebett | cuccia per cane/f | legowisko dla psa/n | kasur anjing | nệm cho chó",
    "dog toy": "juguete para perro | jouet pour chien | 犬のおもちゃ | 강아지 장난감 | brinquedo para cachorro | ของเล่นสุนัข | لعبة كلب/f | Hundespielzeug | gioco per cani | zabawka dla psa/f | mainan anjing | đồ chơi cho chó",
    "dry dog food": "pienso para perros | croquettes pour chien/fp | ドッグフード | 강아지 사료 | ração para cachorro/f | อาหารสุนัข | طعام كلاب | Hundefutter | crocchette per cani/fp | karma dla psa/f | makanan anjing | thức ăn cho chó",
    "cat tree": "árbol para gatos | arbre à chat | キャットタワー | 캣타워 | arranhador para gatos | คอนโดแมว | شجرة قطط/f | Kratzbaum | tiragraffi | drapak dla kota | rumah kucing | nhà cây cho mèo",
    "cat litter": "arena para gatos/f | litière pour chat/f | 猫砂 | 고양이 모래 | areia para gatos/f | ทรายแมว | رمل قطط | Katzenstreu | sabbia per gatti/f | żwirek dla kota | pasir kucing | cát vệ sinh cho mèo",
    "litter box": "arenero | bac à litière | 猫トイレ | 고양이 화장실 | caixa de areia/f | กระบะทรายแมว | صندوق رمل القطط | Katzentoilette | lettiera per gatti/f | kuweta/f | bak pasir kucing | khay vệ sinh cho mèo",
    "aquarium": "acuario | aquarium | 水槽 | 어항 | aquário | ตู้ปลา | حوض سمك | Aquarium | acquario | akwarium/n | akuarium | bể cá",
    "aquarium filter": "filtro de acuario | filtre d'aquarium | 水槽フィルター | 어항 여과기 | filtro para aquário | กรองตู้ปลา | فلتر حوض سمك | Aquariumfilter | filtro per acquario | filtr do akwarium | filter akuarium | lọc bể cá",
    "bird cage": "jaula para pájaros/f | cage à oiseaux/f | 鳥かご | 새장 | gaiola para pássaros/f | กรงนก | قفص طيور | Vogelkäfig | gabbia per uccelli/f | klatka dla ptaków/f | sangkar burung | lồng chim",
    # food
    "coffee beans": "café en grano | café en grains | コーヒー豆 | 원두 | café em grãos | เมล็ดกาแฟ | حبوب قهوة | Kaffeebohnen | caffè in grani | kawa ziarnista | biji kopi | cà phê hạt",
    "green tea": "té verde | thé vert | 緑茶 | 녹차 | chá verde | ชาเขียว | شاي أخضر | grüner Tee | tè verde | zielona herbata | teh hijau | trà xanh",
    "instant coffee": "café instantáneo | café soluble | インスタントコーヒー | 인스턴트 커피 | café solúvel | กาแฟสำเร็จรูป | قهوة سريعة التحضير | Instantkaffee | caffè solubile | kawa rozpuszczalna | kopi instan | cà phê hòa tan",
    "chocolate": "chocolate negro | tablette de chocolat | チョコレート | 초콜릿 | barra de chocolate | ช็อกโกแลต | شوكولاتة | Schokolade | cioccolato | czekolada | cokelat batang | sô cô la",
    "cookies": "galletas/fp | biscuits | クッキー | 쿠키 | biscoitos | คุกกี้ | بسكويت | Kekse | biscotti | ciastka | kue kering | bánh quy",
    "mixed nuts": "frutos secos | fruits à coque | ミックスナッツ | 견과류 | mix de castanhas | ถั่วรวม | مكسرات | Nussmischung | frutta secca | mieszanka orzechów | kacang campur | hạt dinh dưỡng",
    "dried fruit": "fruta deshidratada | fruits secs | ドライフルーツ | 말린 과일 | frutas secas | ผลไม้อบแห้ง | فواكه مجففة | Trockenobst | frutta essiccata | suszone owoce | buah kering | trái cây sấy",
    "pasta": "pasta italiana | pâtes | パスタ | 파스타 | macarrão | พาสต้า | معكرونة | Nudeln | pasta di semola | makaron | pasta spaghetti | mì ý",
    "jasmine rice": "arroz jazmín | riz jasmin | ジャスミンライス | 자스민 쌀 | arroz jasmim | ข้าวหอมมะลิ | أرز ياسمين | Jasminreis | riso jasmine | ryż jaśminowy | beras melati | gạo lài",
    "olive oil": "aceite de oliva | huile d'olive | オリーブオイル | 올리브유 | azeite | น้ำมันมะกอก | زيت زيتون | Olivenöl | olio d'oliva | oliwa z oliwek | minyak zaitun | dầu ô liu",
    "honey": "miel de abeja | miel | はちみつ | 꿀 | mel | น้ำผึ้ง | عسل | Honig | miele | miód | madu | mật ong",
    "hot sauce": "salsa picante | sauce piquante | ホットソース | 핫소스 | molho de pimenta | ซอสพริก | صلصة حارة | scharfe Soße | salsa piccante | ostry sos | saus sambal | tương ớt",
    # musical instruments
    "acoustic guitar": "guitarra acústica/f | guitare acoustique/f | アコースティックギター | 통기타 | violão | กีตาร์โปร่ง | جيتار أكوستيك | Akustikgitarre | chitarra acustica/f | gitara akustyczna/f | gitar akustik | đàn guitar acoustic",
    "electric guitar": "guitarra eléctrica/f | guitare électrique/f | エレキギター | 일렉기타 | guitarra elétrica/f | กีตาร์ไฟฟ้า | جيتار كهربائي | E-Gitarre | chitarra elettrica/f | gitara elektryczna/f | gitar listrik | đàn guitar điện",
    "ukulele": "ukelele | ukulélé | ウクレレ | 우쿨렐레 | ukulele | อูคูเลเล่ | يوكوليلي | Ukulele | ukulele | ukulele/n | ukulele | đàn ukulele",
    "violin": "violín | violon | バイオリン | 바이올린 | violino | ไวโอลิน | كمان | Geige | violino | skrzypce/n | biola | đàn violin",
    "digital piano": "piano digital | piano numérique | 電子ピアノ | 디지털 피아노 | piano digital | เปียโนไฟฟ้า | بيانو رقمي | Digitalpiano | pianoforte digitale | pianino cyfrowe/n | piano digital | đàn piano điện",
    "drum kit": "batería/f | batterie/f | ドラムセット | 드럼 세트 | bateria/f | กลองชุด | طقم طبول | Schlagzeug | batteria/f | perkusja/f | drum set | bộ trống",
    "harmonica": "armónica/f | harmonica | ハーモニカ | 하모니카 | gaita/f | ฮาร์โมนิก้า | هارمونيكا | Mundharmonika | armonica/f | harmonijka/f | harmonika | kèn harmonica",
    "flute": "flauta/f | flûte/f | フルート | 플루트 | flauta transversal/f | ฟลุต | فلوت | Querflöte | flauto | flet | seruling | sáo",
    "saxophone": "saxofón | saxophone | サックス | 색소폰 | saxofone | แซกโซโฟน | ساكسفون | Saxophon | sassofono | saksofon | saksofon | kèn saxophone",
    "guitar strings": "cuerdas de guitarra/fp | cordes de guitare/fp | ギター弦 | 기타줄 | cordas de violão/fp | สายกีตาร์ | أوتار جيتار/f | Gitarrensaiten | corde per chitarra/fp | struny do gitary/n | senar gitar | dây đàn guitar",
    "microphone": "micrófono | microphone | マイク | 마이크 | microfone | ไมโครโฟน | ميكروفون | Mikrofon | microfono | mikrofon | mikrofon | micro",
    # weddings & events
    "wedding dress": "vestido de novia | robe de mariée/f | ウェディングドレス | 웨딩드레스 | vestido de noiva | ชุดแต่งงาน | فستان زفاف | Brautkleid | abito da sposa | suknia ślubna/f | gaun pengantin | váy cưới",
    "bridesmaid dress": "vestido de dama de honor | robe de demoiselle d'honneur/f | ブライズメイドドレス | 들러리 드레스 | vestido de madrinha | ชุดเพื่อนเจ้าสาว | فستان وصيفة | Brautjungfernkleid | abito da damigella | sukienka dla druhny/f | gaun bridesmaid | váy phù dâu",
    "bridal veil": "velo de novia | voile de mariée | ウェディングベール | 웨딩 베일 | véu de noiva | ผ้าคลุมหน้าเจ้าสาว | طرحة عروس/f | Brautschleier | velo da sposa | welon ślubny | veil pengantin | khăn voan cô dâu",
    "balloons": "globos/mp | ballons de baudruche/mp | 風船 | 풍선 | balões/mp | ลูกโป่ง | بالونات/f | Luftballons | palloncini/mp | balony/n | balon | bóng bay",
    "party banner": "pancarta de fiesta/f | banderole de fête/f | パーティーバナー | 파티 가랜드 | faixa de festa/f | ป้ายปาร์ตี้ | لافتة حفلات/f | Partybanner | festone per feste | baner imprezowy | banner pesta | băng rôn tiệc",
    "tablecloth": "mantel | nappe/f | テーブルクロス | 식탁보 | toalha de mesa/f | ผ้าปูโต๊ะ | مفرش طاولة | Tischdecke | tovaglia/f | obrus | taplak meja | khăn trải bàn",
    "cake topper": "adorno para tarta | décoration de gâteau/f | ケーキトッパー | 케이크 토퍼 | topo de bolo | ป้ายปักเค้ก | زينة كيك/f | Tortenaufsatz | decorazione per torta/f | topper na tort | hiasan kue | que cắm bánh kem",
    "wedding invitation": "invitación de boda/f | faire-part de mariage | 結婚式招待状 | 청첩장 | convite de casamento | การ์ดแต่งงาน | دعوة زفاف/f | Hochzeitseinladung | partecipazione di nozze/f | zaproszenie ślubne/n | undangan pernikahan | thiệp cưới",
    # arts, crafts & sewing
    "sewing machine": "máquina de coser/f | machine à coudre/f | ミシン | 재봉틀 | máquina de costura/f | จักรเย็บผ้า | ماكينة خياطة/f | Nähmaschine | macchina da cucire/f | maszyna do szycia/f | mesin jahit | máy may",
    "fabric": "tela/f | tissu au mètre | 生地 | 원단 | tecido | ผ้าเมตร | قماش | Stoff | tessuto | tkanina/f | kain meteran | vải may mặc",
    "yarn": "hilo para tejer | fil à tricoter | 毛糸 | 뜨개실 | fio para tricô | ไหมพรม | خيط حياكة | Strickgarn | filato | włóczka/f | benang rajut | len đan",
    "knitting needles": "agujas de tejer/fp | aiguilles à tricoter/fp | 編み針 | 뜨개바늘 | agulhas de tricô/fp | ไม้ถักนิตติ้ง | إبر حياكة/f | Stricknadeln | ferri da maglia/mp | druty do dziergania/n | jarum rajut | kim đan len",
    "cross stitch kit": "kit de punto de cruz | kit point de croix | クロスステッチキット | 십자수 키트 | kit de ponto cruz | ชุดครอสติช | طقم تطريز | Kreuzstich-Set | kit punto croce | zestaw do haftu krzyżykowego | kit kristik | bộ tranh thêu chữ thập",
    "acrylic paint": "pintura acrílica/f | peinture acrylique/f | アクリル絵の具 | 아크릴 물감 | tinta acrílica/f | สีอะคริลิค | ألوان أكريليك/f | Acrylfarbe | colori acrilici/mp | farby akrylowe/n | cat akrilik | màu acrylic",
    "painting canvas": "lienzo | toile de peinture/f | キャンバスボード | 캔버스 액자 | tela para pintura/f | เฟรมผ้าใบ | لوحة قماش/f | Leinwand | tela per dipingere/f | płótno malarskie/n | kanvas lukis | khung tranh canvas",
    "diamond painting kit": "kit de pintura de diamantes | broderie diamant/f | ダイヤモンドアート | 보석십자수 | pintura de diamante/f | ครอสติชคริสตัล | رسم بالماس | Diamond Painting | pittura diamante/f | haft diamentowy | lukisan berlian | tranh đính đá",
    "glue gun": "pistola de silicona/f | pistolet à colle | グルーガン | 글루건 | pistola de cola quente/f | ปืนกาว | مسدس شمع | Heißklebepistole | pistola per colla a caldo/f | pistolet do kleju | lem tembak | súng bắn keo",
    # books, music & media
    "cookbook": "libro de cocina | livre de cuisine | レシピ本 | 요리책 | livro de receitas | หนังสือสอนทำอาหาร | كتاب طبخ | Kochbuch | libro di cucina | książka kucharska/f | buku resep | sách dạy nấu ăn",
    "novel": "novela/f | roman | 小説 | 소설 | livro de romance | นิยาย | رواية/f | Roman | romanzo | powieść/f | novel | tiểu thuyết",
    "comic book": "cómic | bande dessinée/f | 漫画 | 만화책 | história em quadrinhos/f | การ์ตูน | قصص مصورة/f | Comic | fumetto | komiks | komik | truyện tranh",
    "vinyl record": "disco de vinilo | disque vinyle | レコード | LP판 | disco de vinil | แผ่นเสียง | أسطوانة فينيل/f | Schallplatte | disco in vinile | płyta winylowa/f | piringan hitam | đĩa than",
    "children's book": "libro infantil | livre pour enfants | 絵本 | 동화책 | livro infantil | หนังสือเด็ก | كتاب أطفال | Kinderbuch | libro per bambini | książka dla dzieci/f | buku anak | sách thiếu nhi",
    "dictionary": "diccionario | dictionnaire | 辞書 | 사전 | dicionário | พจนานุกรม | قاموس | Wörterbuch | dizionario | słownik | kamus | từ điển",
    "coloring book": "libro para colorear | livre de coloriage | 塗り絵 | 컬러링북 | livro de colorir | สมุดระบายสี | كتاب تلوين | Malbuch | libro da colorare | kolorowanka/f | buku mewarnai | sách tô màu",
    # electronic components & supplies
    "integrated circuit": "circuito integrado | circuit intégré | 集積回路 | 집적회로 | circuito integrado | ไอซี | دائرة متكاملة/f | integrierter Schaltkreis | circuito integrato | układ scalony | ic chip | vi mạch",
    "transistor": "transistor | transistor | トランジスタ | 트랜지스터 | transistor | ทรานซิสเตอร์ | ترانزستور | Transistor | transistor | tranzystor | transistor | bóng bán dẫn",
    "resistor": "resistencia/f | résistance/f | 抵抗器 | 저항 | resistor | ตัวต้านทาน | مقاومة/f | Widerstand | resistenza/f | rezystor | resistor | điện trở",
    "capacitor": "condensador | condensateur | コンデンサ | 콘덴서 | capacitor | ตัวเก็บประจุ | مكثف | Kondensator | condensatore | kondensator | kapasitor | tụ điện",
    "development board": "placa de desarrollo/f | carte de développement/f | 開発ボード | 개발 보드 | placa de desenvolvimento/f | บอร์ดพัฒนา | لوحة تطوير/f | Entwicklungsboard | scheda di sviluppo/f | płytka rozwojowa/f | papan pengembangan | bo mạch phát triển",
    "rechargeable battery": "pila recargable/f | pile rechargeable/f | 充電池 | 충전지 | pilha recarregável/f | ถ่านชาร์จ | بطارية قابلة للشحن/f | Akku | batteria ricaricabile/f | akumulatorek | baterai isi ulang | pin sạc",
    "temperature sensor": "sensor de temperatura | capteur de température | 温度センサー | 온도 센서 | sensor de temperatura | เซ็นเซอร์วัดอุณหภูมิ | حساس حرارة | Temperatursensor | sensore di temperatura | czujnik temperatury | sensor suhu | cảm biến nhiệt độ",
    "breadboard": "protoboard | plaque d'essai/f | ブレッドボード | 브레드보드 | protoboard | เบรดบอร์ด | لوحة تجارب/f | Steckplatine | breadboard | płytka stykowa/f | papan breadboard | bo mạch cắm thử",
}

# ---------------------------------------------------------------------------------------------------------------
# Attributes. Each value: English title form, then one entry per language in LANGS[1:] order.
# ---------------------------------------------------------------------------------------------------------------
#: Colour -> (title form, "es | fr | ja | ko | pt | th | ar | de | it | pl | id | vn"). Japanese forms are
#: attributive (they prefix the noun with no space).
_COLOUR_TABLE: dict[str, tuple[str, str]] = {
    "black": ("Black", "negro|negra|negros|negras | noir|noire|noirs|noires | 黒い | 검정 | preto|preta|pretos|pretas | สีดำ | أسود|سوداء | schwarz | nero|nera|neri|nere | czarny|czarna|czarne | hitam | đen"),
    "white": ("White", "blanco|blanca|blancos|blancas | blanc|blanche|blancs|blanches | 白い | 흰색 | branco|branca|brancos|brancas | สีขาว | أبيض|بيضاء | weiß | bianco|bianca|bianchi|bianche | biały|biała|białe | putih | trắng"),
    "red": ("Red", "rojo|roja|rojos|rojas | rouge|rouge|rouges|rouges | 赤い | 빨간색 | vermelho|vermelha|vermelhos|vermelhas | สีแดง | أحمر|حمراء | rot | rosso|rossa|rossi|rosse | czerwony|czerwona|czerwone | merah | đỏ"),
    "blue": ("Blue", "azul|azul|azules|azules | bleu|bleue|bleus|bleues | 青い | 파란색 | azul|azul|azuis|azuis | สีฟ้า | أزرق|زرقاء | blau | blu | niebieski|niebieska|niebieskie | biru | xanh dương"),
    "green": ("Green", "verde|verde|verdes|verdes | vert|verte|verts|vertes | 緑の | 초록색 | verde|verde|verdes|verdes | สีเขียว | أخضر|خضراء | grün | verde|verde|verdi|verdi | zielony|zielona|zielone | hijau | xanh lá"),
    "pink": ("Pink", "rosa | rose|rose|roses|roses | ピンクの | 분홍색 | rosa | สีชมพู | وردي|وردية | rosa | rosa | różowy|różowa|różowe | pink | hồng"),
    "yellow": ("Yellow", "amarillo|amarilla|amarillos|amarillas | jaune|jaune|jaunes|jaunes | 黄色い | 노란색 | amarelo|amarela|amarelos|amarelas | สีเหลือง | أصفر|صفراء | gelb | giallo|gialla|gialli|gialle | żółty|żółta|żółte | kuning | vàng"),
    "grey": ("Grey", "gris|gris|grises|grises | gris|grise|gris|grises | グレーの | 회색 | cinza | สีเทา | رمادي|رمادية | grau | grigio|grigia|grigi|grigie | szary|szara|szare | abu-abu | xám"),
    "brown": ("Brown", "marrón|marrón|marrones|marrones | marron | 茶色の | 갈색 | marrom|marrom|marrons|marrons | สีน้ำตาล | بني|بنية | braun | marrone|marrone|marroni|marroni | brązowy|brązowa|brązowe | coklat | nâu"),
    "purple": ("Purple", "morado|morada|morados|moradas | violet|violette|violets|violettes | 紫の | 보라색 | roxo|roxa|roxos|roxas | สีม่วง | بنفسجي|بنفسجية | lila | viola | fioletowy|fioletowa|fioletowe | ungu | tím"),
    "beige": ("Beige", "beige|beige|beiges|beiges | beige|beige|beiges|beiges | ベージュの | 베이지 | bege | สีเบจ | بيج | beige | beige | beżowy|beżowa|beżowe | krem | màu be"),
}

#: Material -> (title form, English query form, "es | fr | ... | vn"). All material phrases are invariable.
_MATERIAL_TABLE: dict[str, tuple[str, str, str]] = {
    "cotton": ("Cotton", "cotton", "de algodón | en coton | コットン | 면 | de algodão | ผ้าฝ้าย | من القطن | Baumwolle | di cotone | z bawełny | katun | cotton"),
    "linen": ("Linen", "linen", "de lino | en lin | リネン | 린넨 | de linho | ผ้าลินิน | من الكتان | Leinen | di lino | z lnu | linen | vải lanh"),
    "silk": ("Silk", "silk", "de seda | en soie | シルク | 실크 | de seda | ผ้าไหม | من الحرير | Seide | di seta | z jedwabiu | sutra | lụa"),
    "wool": ("Wool", "wool", "de lana | en laine | ウール | 울 | de lã | ผ้าวูล | من الصوف | Wolle | di lana | z wełny | wol | len"),
    "polyester": ("Polyester", "polyester", "de poliéster | en polyester | ポリエステル | 폴리에스터 | de poliéster | โพลีเอสเตอร์ | من البوليستر | Polyester | in poliestere | z poliestru | poliester | polyester"),
    "denim": ("Denim", "denim", "de mezclilla | en denim | デニム | 데님 | de brim | ผ้ายีนส์ | دنيم | Denim | di denim | z denimu | denim | vải bò"),
    "leather": ("Leather", "leather", "de cuero | en cuir | レザー | 가죽 | de couro | หนังแท้ | من الجلد | Leder | in pelle | ze skóry | kulit | da thật"),
    "canvas": ("Canvas", "canvas", "de lona | en toile | キャンバス地 | 캔버스 | de lona | ผ้าใบ | كانفاس | Segeltuch | in tela | z płótna | kanvas | vải bố"),
    "nylon": ("Nylon", "nylon", "de nailon | en nylon | ナイロン | 나일론 | de náilon | ไนลอน | من النايلون | Nylon | in nylon | z nylonu | nilon | vải dù"),
    "rubber": ("Rubber", "rubber", "de goma | en caoutchouc | ゴム製 | 고무 | de borracha | ยาง | من المطاط | Gummi | in gomma | z gumy | karet | cao su"),
    "wood": ("Wooden", "wooden", "de madera | en bois | 木製 | 원목 | de madeira | ไม้ | من الخشب | Holz | in legno | z drewna | kayu | gỗ"),
    "metal": ("Metal", "metal", "de metal | en métal | 金属製 | 메탈 | de metal | โลหะ | من المعدن | Metall | in metallo | z metalu | logam | kim loại"),
    "stainless steel": ("Stainless Steel", "stainless steel", "de acero inoxidable | en inox | ステンレス | 스테인리스 | de aço inox | สแตนเลส | ستانلس ستيل | Edelstahl | in acciaio inox | ze stali nierdzewnej | stainless | inox"),
    "plastic": ("Plastic", "plastic", "de plástico | en plastique | プラスチック | 플라스틱 | de plástico | พลาสติก | من البلاستيك | Kunststoff | in plastica | z plastiku | plastik | nhựa"),
    "glass": ("Glass", "glass", "de vidrio | en verre | ガラス | 유리 | de vidro | กระจก | من الزجاج | Glas | in vetro | ze szkła | kaca | thủy tinh"),
    "ceramic": ("Ceramic", "ceramic", "de cerámica | en céramique | 陶器 | 세라믹 | de cerâmica | เซรามิก | من السيراميك | Keramik | in ceramica | z ceramiki | keramik | gốm sứ"),
    "bamboo": ("Bamboo", "bamboo", "de bambú | en bambou | 竹製 | 대나무 | de bambu | ไม้ไผ่ | من الخيزران | Bambus | in bambù | z bambusa | bambu | tre"),
    "gold": ("Gold", "gold", "de oro | en or | ゴールド | 골드 | de ouro | ทองคำ | من الذهب | Gold | in oro | ze złota | emas | mạ vàng"),
    "silver": ("Silver", "silver", "de plata | en argent | シルバー | 실버 | de prata | เงินแท้ | من الفضة | Silber | in argento | ze srebra | perak | bạc"),
}

#: Audience -> (title form, English query form, "es | fr | ... | vn"); pt, ar and pl forms agree with the noun.
_AUDIENCE_TABLE: dict[str, tuple[str, str, str]] = {
    "women": ("Women's", "women", "mujer | femme | レディース | 여성 | feminino|feminina|femininos|femininas | ผู้หญิง | نسائي|نسائية | Damen | donna | damski|damska|damskie | wanita | nữ"),
    "men": ("Men's", "men", "hombre | homme | メンズ | 남성 | masculino|masculina|masculinos|masculinas | ผู้ชาย | رجالي|رجالية | Herren | uomo | męski|męska|męskie | pria | nam"),
    "kids": ("Kids", "kids", "niños | enfant | キッズ | 아동 | infantil|infantil|infantis|infantis | เด็ก | للأطفال | Kinder | bambini | dziecięcy|dziecięca|dziecięce | anak | trẻ em"),
    "baby": ("Baby", "baby", "bebé | bébé | ベビー | 유아 | para bebê | เด็กทารก | للرضع | Baby | neonato | niemowlęcy|niemowlęca|niemowlęce | bayi | em bé"),
}

# fmt: on

#: Size scales: values are language-neutral tokens (letter sizes, EU shoe sizes).
SIZE_SCALES: dict[str, tuple[str, ...]] = {
    "apparel": ("XS", "S", "M", "L", "XL", "XXL"),
    "shoe": tuple(str(n) for n in range(35, 46)),
}

#: How each language writes "size X" in a query (``{}`` is the size token, lower-cased like the query).
SIZE_FORMAT: dict[str, str] = {
    "en": "size {}",
    "es": "talla {}",
    "fr": "taille {}",
    "ja": "{}サイズ",
    "ko": "{}사이즈",
    "pt": "tamanho {}",
    "th": "ไซส์ {}",
    "ar": "مقاس {}",
    "de": "größe {}",
    "it": "taglia {}",
    "pl": "rozmiar {}",
    "id": "ukuran {}",
    "vn": "size {}",
}


def _parse_word(text: str, where: str) -> Word:
    word, _, gender = text.strip().partition("/")
    gender = gender or "m"
    if not word or gender not in _GENDERS:
        raise ValueError(f"lexicon {where}: bad entry {text!r} (expected 'word' or 'word/<{'|'.join(_GENDERS)}>')")
    return Word(word, gender)


def _split_row(row: str, where: str) -> dict[str, str]:
    cells = [cell.strip() for cell in row.split(" | ")]
    if len(cells) != len(_COLUMNS) or not all(cells):
        raise ValueError(f"lexicon {where}: expected {len(_COLUMNS)} non-empty cells, got {len(cells)}: {row!r}")
    return dict(zip(_COLUMNS, cells, strict=True))


def _check_forms(lang: str, spec: str, where: str) -> str:
    forms = spec.split("|")
    if len(forms) not in (1, _FORM_COUNT.get(lang, 1)):
        raise ValueError(f"lexicon {where} [{lang}]: {spec!r} has {len(forms)} forms")
    return spec


def inflect(spec: str, lang: str, gender: str) -> str:
    """The form of an adjective-like ``spec`` (``"m|f|mp|fp"`` or invariable) agreeing with ``gender``."""
    forms = spec.split("|")
    if len(forms) == 1:
        return forms[0]
    return forms[_FORM_INDEX[lang][gender]]


def _build_products() -> dict[str, dict[str, Word]]:
    products: dict[str, dict[str, Word]] = {}
    for key, row in _PRODUCT_TABLE.items():
        where = f"product {key!r}"
        words = {lang: _parse_word(cell, f"{where} [{lang}]") for lang, cell in _split_row(row, where).items()}
        products[key] = {"en": Word(key), **words}
    return products


def _build_attr(table: dict[str, tuple[str, ...]], kind: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for value, entry in table.items():
        *forms, row = entry
        where = f"{kind} {value!r}"
        cells = {lang: _check_forms(lang, cell, where) for lang, cell in _split_row(row, where).items()}
        out[value] = {"title": forms[0], "en": forms[-1], **cells}
    return out


#: product key -> language -> Word (English: the key itself).
PRODUCTS: dict[str, dict[str, Word]] = _build_products()
#: colour -> {"title": ..., "en": ..., lang: form spec}; likewise MATERIALS and AUDIENCES.
COLOURS: dict[str, dict[str, str]] = _build_attr(
    {k: (title, title.lower(), row) for k, (title, row) in _COLOUR_TABLE.items()}, "colour"
)
MATERIALS: dict[str, dict[str, str]] = _build_attr(_MATERIAL_TABLE, "material")
AUDIENCES: dict[str, dict[str, str]] = _build_attr(_AUDIENCE_TABLE, "audience")
