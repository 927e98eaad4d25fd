"""Searching and listing clients at scale through HTTP: short Chinese names, tags, capped counts and
sorting, as the service desk and account managers use them."""

from __future__ import annotations

import pytest

import storage.clients

from .test_clients_api import new_client, people  # noqa: F401 -- people is a fixture shared with the client tests


def names(person, **params):
    response = person.get("/api/clients", query_string=params)
    assert response.status_code == 200, response.json
    return [c["name"] for c in response.json["items"]]


def add(person, name, **fields):
    body = {"phones": [], "emails": [], "addresses": [], "tags": [], "owner": "account_manager", **fields}
    made = new_client(person, name=name, confirm_duplicate=True, **body)
    assert made.status_code == 201, made.json
    return made.json


def test_one_and_two_chinese_characters_find_names_anywhere_in_them(people):
    desk, partner = people["service_desk"], people["partner"]
    add(partner, "张三丰", kind="person")
    add(partner, "李张三", kind="person")
    add(partner, "张伟", kind="person", addresses=[{"city": "北京"}])
    add(partner, "北京华信科技有限公司")
    add(partner, "Zhang San Trading Ltd")
    assert names(desk, q="张三") == ["张三丰", "李张三"]
    assert names(desk, q="三丰") == ["张三丰"]
    assert names(desk, q="张") == ["张三丰", "张伟", "李张三"]
    assert names(desk, q="北京") == ["北京华信科技有限公司", "张伟"]  # a name, and an address
    assert names(desk, q="丰三") == []
    assert names(desk, q="华信科技") == ["北京华信科技有限公司"]
    assert names(desk, q=" 张伟 ") == ["张伟"]
    # Short Latin queries are answered too, without an index to help.
    assert names(desk, q="zh") == ["Zhang San Trading Ltd"]
    assert names(desk, q="张z") == []


def test_full_width_and_upper_case_input_finds_the_same_clients(people):
    add(people["partner"], "ACME Consulting Ltd", phones=["+44 20 7946 0000"])
    assert names(people["viewer"], q="ＡＣＭＥ") == [
        "ACME Consulting Ltd"
    ]  # full-width letters, as a Chinese IME types them
    assert names(people["viewer"], q="acme consult") == ["ACME Consulting Ltd"]
    assert names(people["viewer"], q="４４２０") == ["ACME Consulting Ltd"]


def test_a_renamed_client_is_found_by_its_new_name_only(people):
    made = add(people["partner"], "王小明", kind="person")
    assert people["partner"].patch(f"/api/clients/{made['id']}", json={"name": "王大明"}).status_code == 200
    assert names(people["service_desk"], q="小明") == []
    assert names(people["service_desk"], q="大明") == ["王大明"]


def test_tag_filter_matches_whole_tags_only(people):
    partner = people["partner"]
    add(partner, "Gold", tags=["vip-gold"])
    add(partner, "Plain VIP", tags=["vip", "referral"])
    add(partner, "Percent", tags=["100%"])
    add(partner, "Quoted", tags=['say "hi"'])
    add(partner, "重点客户", tags=["重点"])
    add(partner, "Upper", tags=["VIP"])
    assert names(partner, tag="vip") == ["Plain VIP"]
    assert names(partner, tag="vip-gold") == ["Gold"]
    assert names(partner, tag="100%") == ["Percent"]
    assert names(partner, tag="100") == []
    assert names(partner, tag='say "hi"') == ["Quoted"]
    assert names(partner, tag="重点") == ["重点客户"]
    assert names(partner, tag="referral", q="plain") == ["Plain VIP"]


def test_account_manager_search_stays_within_their_team(people):
    partner = people["partner"]
    add(partner, "张三丰", kind="person", owner="account_manager")
    add(partner, "张三", kind="person", owner="am_tax")
    add(partner, "张三李", kind="person", owner="am_audit")
    add(partner, "张三王", kind="person", owner=None)
    assert names(people["account_manager"], q="张三") == ["张三", "张三丰"]
    assert names(people["am_audit"], q="张三") == ["张三李"]
    assert names(people["service_desk"], q="张三") == ["张三", "张三丰", "张三李", "张三王"]


def test_a_broad_search_counts_up_to_the_limit_and_still_pages_through_every_match(people, monkeypatch):
    monkeypatch.setattr(storage.clients, "COUNT_LIMIT", 3)
    partner = people["partner"]
    for n in range(5):
        add(partner, f"Harbour {n}")
    add(partner, "Elsewhere")
    first = partner.get("/api/clients", query_string={"q": "harbour", "page_size": 2}).json
    assert (first["total"], first["total_exact"]) == (3, False)
    pages = [names(partner, q="harbour", page_size=2, page=p) for p in (1, 2, 3, 4)]
    assert pages == [["Harbour 0", "Harbour 1"], ["Harbour 2", "Harbour 3"], ["Harbour 4"], []]
    exact = partner.get("/api/clients", query_string={"q": "elsewhere"}).json
    assert (exact["total"], exact["total_exact"]) == (1, True)
    assert partner.get("/api/clients", query_string={"q": "nothing"}).json["total_exact"] is True


@pytest.mark.parametrize(
    "few_matches, count_limit",
    [(2_000, 10_000), (2_000, 3), (0, 3)],
    ids=["read-once", "counted-then-sorted", "counted-then-index-order"],
)
def test_sorting_and_paging_agree_however_many_clients_match(people, clock, monkeypatch, few_matches, count_limit):
    # A searched page and its count are read together (up to COUNT_LIMIT matches); past it, the count
    # stops and the page is sorted from the matches (few of them) or read in the sort order's index
    # (many): all three agree.
    monkeypatch.setattr(storage.clients, "FEW_MATCHES", few_matches)
    monkeypatch.setattr(storage.clients, "COUNT_LIMIT", count_limit)
    partner = people["partner"]
    for name, tier in (("delta", "B"), ("Alpha", "C"), ("charlie", "A"), ("Bravo", "B"), ("echo", "A")):
        add(partner, f"{name} Search Co", tier=tier, tags=["shipping"])
        clock.advance(minutes=1)
    add(partner, "Unrelated", tier="C")
    assert names(partner, q="search co") == [
        "Alpha Search Co",
        "Bravo Search Co",
        "charlie Search Co",
        "delta Search Co",
        "echo Search Co",
    ]
    assert names(partner, q="search", page_size=2, page=2) == ["charlie Search Co", "delta Search Co"]
    assert names(partner, q="search", sort="-created", page_size=2, page=2) == ["charlie Search Co", "Alpha Search Co"]
    assert names(partner, q="search", sort="tier") == [
        "charlie Search Co",
        "echo Search Co",
        "delta Search Co",
        "Bravo Search Co",
        "Alpha Search Co",
    ]
    assert names(partner, q="search", sort="-name", page_size=3, page=2) == ["Bravo Search Co", "Alpha Search Co"]
    assert names(partner, tier="A", sort="name") == ["charlie Search Co", "echo Search Co"]
    assert names(partner, q="co", tier="B", tag="shipping", owner="account_manager", sort="-name") == [
        "delta Search Co",
        "Bravo Search Co",
    ]


def test_bad_search_input_is_refused_naming_the_field(people):
    viewer = people["viewer"]
    for params, field in (
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"tag": "t" * 51}, "tag"),
        ({"page_size": 201}, "page_size"),
        ({"sort": "-colour"}, "sort"),
        ({"tier": "Z"}, "tier"),
    ):
        response = viewer.get("/api/clients", query_string=params)
        assert response.status_code == 422 and field in response.json["errors"], (params, response.json)
    nul = viewer.get("/api/clients", query_string={"q": "a\x00b"})
    assert nul.status_code == 422 and "q" in nul.json["errors"]


def test_postgresql_answers_substrings_short_chinese_names_and_tags_from_indexes(pg):
    """The conditions as built can use their indexes (a cast or type mismatch would silently read every row)."""
    from sqlalchemy import event, select

    from storage.clients import Client, search_condition, tagged_condition

    expected = {
        "ix_clients_search_trgm": search_condition("harbour", dialect="postgresql"),
        "ix_clients_search_cjk": search_condition("张三", dialect="postgresql"),
        "ix_clients_tags": tagged_condition("vip", dialect="postgresql"),
    }
    with pg.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")

        @event.listens_for(conn, "before_cursor_execute", retval=True)
        def explain(conn, cursor, statement, parameters, context, executemany):
            return "EXPLAIN " + statement, parameters

        for index, condition in expected.items():
            plan = "\n".join(conn.execute(select(Client.id).where(condition)).scalars())
            assert index in plan, plan


def test_postgresql_sorts_a_searched_page_from_the_covering_indexes_of_live_clients(pg):
    """Migration 0023: a page of a broad search sorted by name walks the live clients' names with their search
    text, and ids found by blind token are checked live and sorted from the id index, neither reading a
    client row (an index-only scan; a missing or unusable index would read every match's encrypted row)."""
    from sqlalchemy import event, select

    from storage.clients import Client, contains_condition

    live = Client.deleted_at.is_(None)
    by_name = select(Client.id).where(live, contains_condition(Client.search_text, "有限公司", dialect="postgresql"))
    by_id = select(Client.id, Client.name_key).where(live, Client.id.in_([1, 2, 3]))
    with pg.connect() as conn:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            conn.exec_driver_sql(f"SET {setting} = off")

        @event.listens_for(conn, "before_cursor_execute", retval=True)
        def explain(conn, cursor, statement, parameters, context, executemany):
            return "EXPLAIN " + statement, parameters

        walk = "\n".join(conn.execute(by_name.order_by(Client.name_key, Client.id).limit(50)).scalars())
        assert "Index Only Scan using ix_clients_live_name" in walk, walk
        ids = "\n".join(conn.execute(by_id).scalars())
        assert "Index Only Scan using ix_clients_live_" in ids, ids  # either index answers, on an empty table
