"""The batch writer on its own: fake store and publish functions, no database."""

import asyncio
import itertools
import time

from chat import writer as writer_module
from chat.writer import MAX_BATCH, TURNS_PER_ROUND, BatchWriter

SPACING_SECONDS = 0.2
# asyncio may wake a sleeper up to one clock tick early.
CLOCK_TICK_SECONDS = time.get_clock_info("monotonic").resolution


class Fakes:
    """A store that answers each item with ``item * 10`` (or what ``answer``
    gives), and a publish; both record what they were handed, and when."""

    def __init__(self, answer=lambda item: item * 10):
        self.answer = answer
        self.batches: list[list] = []
        self.started_at: list[float] = []
        self.published: list[list] = []
        self.log: list[str] = []

    async def store(self, items: list) -> list:
        self.batches.append(list(items))
        self.started_at.append(asyncio.get_running_loop().time())
        return [self.answer(item) for item in items]

    async def publish(self, outcomes: list) -> None:
        # Yields to the loop a few times: a caller resumed meanwhile would show.
        for _ in range(3):
            await asyncio.sleep(0)
        self.published.append(list(outcomes))
        self.log.append("published")

    def writer(self, spacing: float = 0.0) -> BatchWriter:
        return BatchWriter(store=self.store, publish=self.publish, spacing=spacing)


async def outcome_of(writer: BatchWriter, item) -> tuple[str, object]:
    """What ``writer.store(item)`` did: ("returned", value) or ("raised", error)."""
    try:
        return "returned", await writer.store(item)
    except Exception as error:  # noqa: BLE001 (the outcome under test)
        return "raised", error


async def test_posts_read_in_one_loop_turn_share_a_batch():
    fakes = Fakes()
    writer = fakes.writer()
    await asyncio.gather(*(writer.store(n) for n in range(5)))
    assert fakes.batches == [[0, 1, 2, 3, 4]]


async def test_each_caller_gets_its_own_outcome():
    writer = Fakes().writer()
    assert await asyncio.gather(*(writer.store(n) for n in range(4))) == [0, 10, 20, 30]


async def test_an_exception_outcome_is_raised_to_that_caller_only():
    refusal = ValueError("not you")
    fakes = Fakes(answer=lambda item: refusal if item == 1 else item * 10)
    writer = fakes.writer()
    outcomes = await asyncio.gather(*(outcome_of(writer, n) for n in range(3)))
    assert outcomes == [("returned", 0), ("raised", refusal), ("returned", 20)]


async def test_a_whole_batch_failure_reaches_every_caller_and_nothing_is_published():
    fakes = Fakes()
    down = ConnectionError("database is down")

    async def failing_store(items):
        raise down

    writer = BatchWriter(store=failing_store, publish=fakes.publish)
    outcomes = await asyncio.gather(*(outcome_of(writer, n) for n in range(3)))
    assert outcomes == [("raised", down)] * 3
    assert fakes.published == []


async def test_publish_runs_once_per_batch_before_any_caller_resumes():
    fakes = Fakes()
    writer = fakes.writer()

    async def post(n):
        await writer.store(n)
        fakes.log.append(f"resumed {n}")

    await asyncio.gather(post(0), post(1))
    await asyncio.gather(post(2))
    assert fakes.published == [[0, 10], [20]]
    assert fakes.log == [
        "published",
        "resumed 0",
        "resumed 1",
        "published",
        "resumed 2",
    ]


async def test_batches_in_a_row_start_at_least_spacing_apart():
    """Each post follows the last batch closely, as under load."""
    fakes = Fakes()
    writer = fakes.writer(spacing=SPACING_SECONDS)
    for n in range(3):
        await writer.store(n)
    starts = fakes.started_at
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= SPACING_SECONDS - CLOCK_TICK_SECONDS for gap in gaps), gaps


async def test_posts_arriving_while_a_batch_waits_for_its_spacing_join_it():
    """Under load each batch gathers every post of its spacing."""
    fakes = Fakes()
    writer = fakes.writer(spacing=SPACING_SECONDS)
    await writer.store(1)
    waiting = asyncio.ensure_future(writer.store(2))
    await asyncio.sleep(SPACING_SECONDS / 4)
    await asyncio.gather(waiting, writer.store(3))
    assert fakes.batches == [[1], [2, 3]]


async def test_a_post_after_a_quiet_spell_goes_at_once():
    fakes = Fakes()
    writer = fakes.writer(spacing=SPACING_SECONDS)
    await writer.store(1)
    await asyncio.sleep(SPACING_SECONDS * 1.5)
    posted_at = asyncio.get_running_loop().time()
    await writer.store(2)
    assert fakes.started_at[1] - posted_at < SPACING_SECONDS / 2


async def test_max_batch_splits_a_big_burst_and_keeps_each_outcome():
    fakes = Fakes()
    writer = fakes.writer()
    burst = range(MAX_BATCH + 3)
    outcomes = await asyncio.gather(*(writer.store(n) for n in burst))
    assert [len(batch) for batch in fakes.batches] == [MAX_BATCH, 3]
    assert outcomes == [n * 10 for n in burst]


async def post_one_per_turn(writer: BatchWriter, items, turns: int) -> list:
    """Post ``items`` one every ``turns`` loop turns, as a server reading a
    burst of frames over several turns would; the outcomes."""
    posts = []
    for item in items:
        posts.append(asyncio.ensure_future(writer.store(item)))
        for _ in range(turns):
            await asyncio.sleep(0)
    return await asyncio.gather(*posts)


async def test_a_burst_read_over_several_loop_turns_goes_as_one_batch():
    """No fixed spacing: the batch waits while each round of turns brings more."""
    fakes = Fakes()
    writer = fakes.writer()
    assert await post_one_per_turn(writer, range(6), turns=1) == [
        n * 10 for n in range(6)
    ]
    assert fakes.batches == [[0, 1, 2, 3, 4, 5]]


async def test_a_lone_post_waits_only_a_few_loop_turns():
    fakes = Fakes()
    writer = fakes.writer()
    stored = asyncio.ensure_future(writer.store(1))
    turns = 0
    while not fakes.batches:
        await asyncio.sleep(0)
        turns += 1
    assert turns <= 2 * TURNS_PER_ROUND + 2
    await stored


async def test_posts_spaced_wider_than_a_round_go_in_batches_of_their_own():
    fakes = Fakes()
    writer = fakes.writer()
    await post_one_per_turn(writer, range(3), turns=3 * TURNS_PER_ROUND + 3)
    assert fakes.batches == [[0], [1], [2]]


async def test_a_steady_stream_is_cut_at_the_gathering_limit(monkeypatch):
    """However steadily posts come, a batch gathers for MAX_GATHER_SECONDS at most."""
    monkeypatch.setattr(writer_module, "MAX_GATHER_SECONDS", 0.0)
    fakes = Fakes()
    writer = fakes.writer()
    await post_one_per_turn(writer, range(6), turns=1)
    assert len(fakes.batches) > 1
    assert sorted(itertools.chain(*fakes.batches)) == list(range(6))
