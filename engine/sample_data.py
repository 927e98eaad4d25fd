"""Believable clients (Chinese and English names, phones, emails, addresses) from a seeded random
generator: the demo seed and the client-search bench both draw from it."""

from __future__ import annotations

import random

# (character, pinyin): surnames by rough frequency, so 王, 李 and 张 are common as in life.
CN_SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("萧", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("潘", "pan"),
    ("袁", "yuan"),
    ("蔡", "cai"),
    ("蒋", "jiang"),
    ("余", "yu"),
    ("于", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("魏", "wei"),
    ("苏", "su"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("任", "ren"),
    ("沈", "shen"),
    ("姚", "yao"),
    ("卢", "lu"),
    ("姜", "jiang"),
    ("崔", "cui"),
    ("钟", "zhong"),
    ("谭", "tan"),
    ("陆", "lu"),
    ("汪", "wang"),
    ("范", "fan"),
    ("金", "jin"),
    ("石", "shi"),
]
CN_SURNAME_WEIGHTS = [max(1, 60 - i) for i in range(len(CN_SURNAMES))]
CN_GIVEN = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("英", "ying"),
    ("华", "hua"),
    ("建", "jian"),
    ("国", "guo"),
    ("文", "wen"),
    ("辉", "hui"),
    ("鹏", "peng"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("欣", "xin"),
    ("婷", "ting"),
    ("晨", "chen"),
    ("思", "si"),
    ("雨", "yu"),
    ("嘉", "jia"),
    ("子", "zi"),
    ("梓", "zi"),
    ("轩", "xuan"),
    ("志", "zhi"),
    ("海", "hai"),
    ("琳", "lin"),
    ("玉", "yu"),
    ("春", "chun"),
    ("红", "hong"),
    ("立", "li"),
    ("新", "xin"),
    ("德", "de"),
    ("佳", "jia"),
    ("慧", "hui"),
    ("丹", "dan"),
    ("峰", "feng"),
    ("博", "bo"),
    ("俊", "jun"),
    ("晓", "xiao"),
    ("天", "tian"),
    ("凯", "kai"),
]
CN_CITIES = [
    ("北京", "beijing", "010"),
    ("上海", "shanghai", "021"),
    ("深圳", "shenzhen", "0755"),
    ("广州", "guangzhou", "020"),
    ("杭州", "hangzhou", "0571"),
    ("成都", "chengdu", "028"),
    ("武汉", "wuhan", "027"),
    ("南京", "nanjing", "025"),
    ("苏州", "suzhou", "0512"),
    ("西安", "xian", "029"),
    ("天津", "tianjin", "022"),
    ("重庆", "chongqing", "023"),
]
CN_BRANDS = [
    ("华信", "huaxin"),
    ("恒通", "hengtong"),
    ("瑞丰", "ruifeng"),
    ("东方", "dongfang"),
    ("金桥", "jinqiao"),
    ("盛达", "shengda"),
    ("天成", "tiancheng"),
    ("远景", "yuanjing"),
    ("博雅", "boya"),
    ("中联", "zhonglian"),
    ("鼎盛", "dingsheng"),
    ("宏图", "hongtu"),
    ("安泰", "antai"),
    ("新华", "xinhua"),
    ("北辰", "beichen"),
    ("长城", "changcheng"),
    ("银河", "yinhe"),
    ("明德", "mingde"),
    ("正阳", "zhengyang"),
    ("卓越", "zhuoyue"),
    ("嘉禾", "jiahe"),
    ("云帆", "yunfan"),
    ("晨光", "chenguang"),
    ("同创", "tongchuang"),
    ("润泽", "runze"),
]
CN_TRADES = [
    ("科技", "technology"),
    ("建筑设计", "architecture"),
    ("物流", "logistics"),
    ("贸易", "trade"),
    ("管理咨询", "consulting"),
    ("律师", "legal"),
    ("会计师", "accounting"),
    ("软件", "software"),
    ("医疗器械", "healthcare"),
    ("餐饮管理", "hospitality"),
    ("房地产开发", "real_estate"),
    ("新能源", "energy"),
]
CN_LEGAL_FORMS = ["有限公司", "有限公司", "股份有限公司", "事务所", "集团有限公司"]
CN_STREETS = [
    "建国路",
    "人民路",
    "中山路",
    "解放路",
    "长安街",
    "南京路",
    "深南大道",
    "天府大道",
    "东湖路",
    "和平路",
    "朝阳路",
    "光明街",
    "新华路",
    "滨江大道",
]

EN_FIRST = [
    "James",
    "Mary",
    "Oliver",
    "Emma",
    "William",
    "Sophie",
    "Henry",
    "Charlotte",
    "George",
    "Amelia",
    "Thomas",
    "Isla",
    "Jack",
    "Grace",
    "Harry",
    "Lily",
    "Daniel",
    "Chloe",
    "Samuel",
    "Ella",
    "David",
    "Hannah",
    "Michael",
    "Lucy",
    "Robert",
    "Emily",
    "Edward",
    "Alice",
    "Richard",
    "Olivia",
    "Peter",
    "Eleanor",
    "Andrew",
    "Ruth",
    "Matthew",
    "Zoe",
    "Joseph",
    "Clara",
    "Benjamin",
    "Florence",
]
EN_LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Hughes",
    "Edwards",
    "Turner",
    "Harrison",
    "Fletcher",
    "Morgan",
    "Campbell",
    "Kennedy",
    "Sullivan",
    "O'Brien",
    "Murphy",
    "Baker",
    "Carter",
    "Mitchell",
    "Fitzgerald",
    "Whitaker",
    "Ashworth",
    "Pemberton",
    "Langley",
]
EN_BRANDS = [
    "Harbour",
    "Meridian",
    "Northwind",
    "Summit",
    "Riverside",
    "Oakfield",
    "Granite",
    "Beacon",
    "Crescent",
    "Kestrel",
    "Silverline",
    "Bramble",
    "Lighthouse",
    "Evergreen",
    "Pinnacle",
    "Blackwood",
    "Ashford",
    "Highgate",
    "Westbrook",
    "Foxglove",
    "Redwood",
    "Sterling",
    "Cobalt",
    "Juniper",
    "Thistle",
]
EN_TRADES = [
    ("Logistics", "logistics"),
    ("Legal", "legal"),
    ("Architects", "architecture"),
    ("Consulting", "consulting"),
    ("Engineering", "engineering"),
    ("Capital", "finance"),
    ("Foods", "hospitality"),
    ("Systems", "software"),
    ("Health", "healthcare"),
    ("Estates", "real_estate"),
    ("Energy", "energy"),
    ("Accountants", "accounting"),
]
EN_LEGAL_FORMS = ["Ltd", "Ltd", "LLP", "Inc", "PLC", "Group", "Limited"]
EN_PLACES = [
    ("London", "EC1A", "United Kingdom", "+44 20"),
    ("Bristol", "BS1", "United Kingdom", "+44 117"),
    ("Manchester", "M1", "United Kingdom", "+44 161"),
    ("Edinburgh", "EH1", "United Kingdom", "+44 131"),
    ("New York", "10001", "United States", "+1 212"),
    ("Boston", "02108", "United States", "+1 617"),
    ("Singapore", "049315", "Singapore", "+65"),
    ("Hong Kong", "", "Hong Kong", "+852"),
]
EN_STREETS = [
    "High Street",
    "Quay Street",
    "King Street",
    "Station Road",
    "Church Lane",
    "Victoria Road",
    "Market Square",
    "Park Avenue",
    "Mill Lane",
    "Harbour Way",
    "Broad Street",
    "Queen's Walk",
]
PERSONAL_MAIL = {
    "cn": ["qq.com", "163.com", "126.com", "sina.com", "gmail.com"],
    "en": ["gmail.com", "outlook.com", "yahoo.co.uk", "icloud.com", "proton.me"],
}
TAGS = [
    "vip",
    "referral",
    "new-2025",
    "cross-border",
    "retainer",
    "at-risk",
    "government",
    "startup",
    "family-office",
    "listed",
    "nonprofit",
    "tender",
]
STATUS_WEIGHTS = {"prospect": 15, "active": 60, "dormant": 15, "former": 10}
TIER_WEIGHTS = {"A": 10, "B": 30, "C": 60}


def chinese_person(rng: random.Random) -> tuple[str, str]:
    """A Chinese personal name (2 or 3 characters) and its pinyin, e.g. ('张伟', 'zhang.wei')."""
    surname, pinyin = rng.choices(CN_SURNAMES, weights=CN_SURNAME_WEIGHTS)[0]
    given = rng.sample(CN_GIVEN, 1 if rng.random() < 0.35 else 2)
    return surname + "".join(c for c, _ in given), pinyin + "." + "".join(p for _, p in given)


def english_person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
    return f"{first} {last}", f"{first}.{last}".lower().replace("'", "")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def chinese_mobile(rng: random.Random) -> str:
    number = "1" + rng.choice("3456789") + _digits(rng, 9)
    # Written either as one run of digits or grouped 3-4-4, as people do.
    return number if rng.random() < 0.5 else f"{number[:3]} {number[3:7]} {number[7:]}"


def sample_client(rng: random.Random) -> dict:
    """One client's fields as the API takes them (no owner): about half Chinese, half English."""
    chinese = rng.random() < 0.5
    person = rng.random() < 0.4
    tier = rng.choices(list(TIER_WEIGHTS), weights=list(TIER_WEIGHTS.values()))[0]
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    tags = rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2]))
    if chinese:
        city, city_pinyin, area = rng.choice(CN_CITIES)
        address = {
            "label": "office",
            "street": f"{rng.choice(CN_STREETS)}{rng.randint(1, 999)}号",
            "city": city,
            "country": "中国",
        }
        if person:
            name, pinyin = chinese_person(rng)
            industry = None
            emails = [f"{pinyin}{rng.randint(1, 99)}@{rng.choice(PERSONAL_MAIL['cn'])}"]
            phones = [chinese_mobile(rng)]
        else:
            (brand, brand_pinyin), (trade, industry) = rng.choice(CN_BRANDS), rng.choice(CN_TRADES)
            name = f"{city}{brand}{trade}{rng.choice(CN_LEGAL_FORMS)}"
            emails = [f"{rng.choice(['info', 'contact', 'office', 'service'])}@{brand_pinyin}{city_pinyin}.com.cn"]
            phones = [f"+86 {area[1:]} {_digits(rng, 4)} {_digits(rng, 4)}"]
            if rng.random() < 0.5:
                phones.append(chinese_mobile(rng))
    else:
        place, postcode, country, dial = rng.choice(EN_PLACES)
        address = {
            "label": "office",
            "street": f"{rng.randint(1, 250)} {rng.choice(EN_STREETS)}",
            "city": place,
            "postcode": f"{postcode} {rng.randint(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTUW')}"
            if postcode and country == "United Kingdom"
            else postcode,
            "country": country,
        }
        address = {k: v for k, v in address.items() if v}
        if person:
            name, handle = english_person(rng)
            industry = None
            emails = [f"{handle}{rng.choice(['', str(rng.randint(1, 99))])}@{rng.choice(PERSONAL_MAIL['en'])}"]
        else:
            brand, (trade, industry) = rng.choice(EN_BRANDS), rng.choice(EN_TRADES)
            name = f"{brand} {trade} {rng.choice(EN_LEGAL_FORMS)}"
            emails = [f"{rng.choice(['info', 'hello', 'office', 'accounts'])}@{brand.lower()}{trade.lower()}.com"]
        phones = [f"{dial} {_digits(rng, 4)} {_digits(rng, 4)}"]
    return {
        "kind": "person" if person else "organisation",
        "name": name,
        "industry": industry,
        "tier": tier,
        "status": status,
        "tags": tags,
        "phones": phones,
        "emails": emails,
        "addresses": [address],
    }
