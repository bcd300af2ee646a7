"""Board-game adapters and evaluation helpers (muzero_gym.games)."""

from __future__ import annotations

import io
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

pettingzoo = pytest.importorskip("pettingzoo")
pytest.importorskip("pyspiel")

from gymnasium import spaces  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402
from pettingzoo.classic import tictactoe_v3  # noqa: E402
from pettingzoo.test import api_test, seed_test  # noqa: E402

from muzero_gym.games import (  # noqa: E402
    HumanAgent,
    MatchResults,
    MCTSBotAgent,
    RandomAgent,
    TurnBasedGymEnv,
    is_aec_env,
    is_pettingzoo_env,
    openspiel_env,
    play_games,
)


class ToyGame(pettingzoo.AECEnv):
    """``num_agents`` take turns; after ``length`` moves everyone gets ``final_reward``.

    ``final_reward`` maps a seat to its reward, so a test can make the game zero-sum or not.
    """

    metadata = {"render_modes": [], "name": "toy_v0", "is_parallelizable": False}

    def __init__(
        self,
        num_agents: int = 2,
        length: int = 3,
        final_reward: tuple[float, ...] = (1.0, -1.0),
        mask_in: str = "observation",
        action_space: spaces.Space | None = None,
    ) -> None:
        super().__init__()
        self.possible_agents = [f"p{i}" for i in range(num_agents)]
        self.length, self.final_reward, self.mask_in = length, final_reward, mask_in
        box = spaces.Box(0, length, (1,), np.float32)
        mask = spaces.Box(0, 1, (2,), np.int8)
        space = spaces.Dict({"observation": box, "action_mask": mask})
        self.observation_spaces = {
            a: space if mask_in == "observation" else box for a in self.possible_agents
        }
        self.action_spaces = {a: action_space or spaces.Discrete(2) for a in self.possible_agents}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.agents = self.possible_agents[:]
        self.moves = 0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        mask_info = {"action_mask": np.ones(2, np.int8)} if self.mask_in == "info" else {}
        self.infos = {a: dict(mask_info) for a in self.agents}
        self.agent_selection = self.agents[0]

    def observe(self, agent: str) -> Any:
        observation = np.array([self.moves], np.float32)
        if self.mask_in == "observation":
            return {"observation": observation, "action_mask": np.ones(2, np.int8)}
        return observation

    def step(self, action: Any) -> None:
        if self.terminations[self.agent_selection]:
            self._was_dead_step(action)
            return
        self.moves += 1
        if self.moves >= self.length:
            self.rewards = dict(zip(self.agents, self.final_reward, strict=True))
            self.terminations = dict.fromkeys(self.agents, True)
        index = self.agents.index(self.agent_selection)
        self.agent_selection = self.agents[(index + 1) % len(self.agents)]
        self._accumulate_rewards()


class ToyParallelGame(pettingzoo.ParallelEnv):
    metadata = {"name": "toy_parallel_v0"}
    possible_agents = ["p0", "p1"]


def play(env: TurnBasedGymEnv, moves: list[int], seed: int = 0) -> list[tuple]:
    """Reset, play ``moves``; return ``(reward, terminated, info)`` of every step."""
    env.reset(seed=seed)
    steps = []
    for move in moves:
        _, reward, terminated, truncated, info = env.step(move)
        assert not truncated
        steps.append((reward, terminated, info))
    return steps


# ---------------------------------------------------------------- the OpenSpiel adapter
@pytest.mark.parametrize("game", ["tic_tac_toe", "connect_four", "kuhn_poker"])
def test_openspiel_env_passes_pettingzoo_api_and_seed_tests(game: str) -> None:
    # kuhn_poker has chance nodes (card deals) that reset(seed=) must make reproducible.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # api_test's advice on Dict observation spaces
        api_test(openspiel_env(game), num_cycles=200)
        seed_test(lambda: openspiel_env(game), num_cycles=200)


def test_openspiel_observation_planes_and_seat() -> None:
    env = openspiel_env("tic_tac_toe")
    env.reset(seed=0)
    env.step(4)  # x in the centre
    observation = env.observe("player_1")
    assert observation["observation"].shape == (4, 3, 3)  # empty / o / x / seat
    assert observation["observation"][2, 1, 1] == 1
    assert (observation["observation"][3] == 1).all()  # player_1 observes
    assert observation["action_mask"].dtype == np.int8
    assert observation["action_mask"].tolist() == [1, 1, 1, 1, 0, 1, 1, 1, 1]
    assert env.observe("player_0")["action_mask"].sum() == 0  # not player_0's turn
    plain = openspiel_env("connect_four", seat_plane=False)
    assert plain.observation_space("player_0")["observation"].shape == (3, 6, 7)


def test_openspiel_render_shows_the_board(capsys: pytest.CaptureFixture[str]) -> None:
    env = openspiel_env("tic_tac_toe", render_mode="ansi")
    env.reset()
    env.step(0)
    assert env.render() == "x..\n...\n..."
    human = openspiel_env("tic_tac_toe", render_mode="human")
    human.reset()
    human.step(8)
    assert "..x" in capsys.readouterr().out
    with pytest.raises(ValueError, match="render_mode"):
        openspiel_env("tic_tac_toe", render_mode="rgb_array")


def test_openspiel_env_passes_game_parameters() -> None:
    env = openspiel_env("connect_four", rows=4, columns=5)
    assert env.observation_space("player_0")["observation"].shape == (4, 4, 5)
    with pytest.raises(ValueError, match="cannot load"):
        openspiel_env("connect_four", no_such_parameter=1)


def test_openspiel_unknown_game_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown OpenSpiel game 'tic_tac_to'") as error:
        openspiel_env("tic_tac_to")
    assert "did you mean tic_tac_toe" in str(error.value)
    assert "connect_four" in str(error.value)


@pytest.mark.parametrize(
    ("game", "params", "message"),
    [
        ("matrix_rps", {}, "simultaneous moves"),
        ("bargaining", {}, "not zero-sum"),
        ("kuhn_poker", {"players": 3}, "3 players; only two-player"),
    ],
)
def test_openspiel_refuses_games_that_are_not_two_player_zero_sum_sequential(
    game: str, params: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        openspiel_env(game, **params)


# ---------------------------------------------------------------- TurnBasedGymEnv
def tictactoe_envs() -> list[Any]:
    return [
        pytest.param(lambda: tictactoe_v3.env(), id="pettingzoo"),
        pytest.param(lambda: openspiel_env("tic_tac_toe"), id="openspiel"),
    ]


@pytest.mark.parametrize("make", tictactoe_envs())
def test_turn_based_env_passes_check_env(make: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OpenSpiel tensors have unbounded Box spaces
        check_env(TurnBasedGymEnv(make()), skip_render_check=True)


def test_turn_based_env_over_shimmy_takes_the_mask_from_info() -> None:
    shimmy = pytest.importorskip("shimmy")
    env = TurnBasedGymEnv(shimmy.OpenSpielCompatibilityV0(game_name="tic_tac_toe"))
    assert env.observation_space.shape == (3, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    steps = play(env, [0, 3, 1, 4, 2])
    assert [reward for reward, _, _ in steps] == [0, 0, 0, 0, 1]


@pytest.mark.parametrize("make", tictactoe_envs())
def test_rewards_are_the_movers_and_to_play_alternates(make: Any) -> None:
    env = TurnBasedGymEnv(make())
    observation, info = env.reset(seed=0)
    assert info["to_play"] == 0 and info["action_mask"].dtype == np.int8
    assert info["action_mask"].tolist() == [1] * 9
    # Cells 0, 1, 2 form a line in both numberings (a row in OpenSpiel, a column in
    # PettingZoo): the first player wins on ply 5.
    steps = play(env, [0, 3, 1, 4, 2])
    assert [reward for reward, _, _ in steps] == [0, 0, 0, 0, 1]
    assert [terminated for _, terminated, _ in steps] == [False] * 4 + [True]
    assert [info["to_play"] for _, _, info in steps] == [1, 0, 1, 0, 1]
    assert steps[0][2]["action_mask"][0] == 0
    assert steps[-1][2]["action_mask"].sum() == 0  # the game is over
    # The second player wins on ply 6: again +1 for the mover.
    steps = play(env, [0, 3, 1, 4, 8, 5])
    assert [reward for reward, _, _ in steps] == [0, 0, 0, 0, 0, 1]
    # A draw: 0 to the end.
    steps = play(env, [0, 4, 8, 1, 7, 6, 2, 5, 3])
    assert [reward for reward, _, _ in steps] == [0] * 9 and steps[-1][1]


def test_observations_are_from_the_movers_perspective() -> None:
    env = TurnBasedGymEnv(tictactoe_v3.env())
    env.reset(seed=0)
    observation, *_ = env.step(4)
    assert observation[1, 1, 1] == 1 and observation[1, 1, 0] == 0  # the opponent's mark
    observation, *_ = env.step(0)
    assert observation[1, 1, 0] == 1 and observation[0, 0, 1] == 1
    spiel = TurnBasedGymEnv(openspiel_env("tic_tac_toe"))
    observation, info = spiel.reset(seed=0)
    assert (observation[3] == info["to_play"]).all()  # the seat plane
    observation, _, _, _, info = spiel.step(4)
    assert (observation[3] == info["to_play"]).all() and info["to_play"] == 1


@pytest.mark.parametrize("make", tictactoe_envs())
def test_illegal_move_raises_and_leaves_the_game_unchanged(make: Any) -> None:
    env = TurnBasedGymEnv(make())
    env.reset(seed=0)
    env.step(np.array([4]))  # a one-element array is a move
    legal = r"legal moves: \[0, 1, 2, 3, 5, 6, 7, 8\]"
    with pytest.raises(ValueError, match=r"illegal move 4 for seat 1; " + legal):
        env.step(4)
    with pytest.raises(ValueError, match="illegal move 9"):
        env.step(9)
    _, reward, terminated, _, info = env.step(0)
    assert (reward, terminated, info["to_play"]) == (0, False, 0)
    assert env.action_masks().tolist() == [False, True, True, True, False] + [True] * 4
    assert env.to_play() == 0


def test_step_after_the_end_asks_for_reset() -> None:
    env = TurnBasedGymEnv(openspiel_env("tic_tac_toe"))
    play(env, [0, 3, 1, 4, 2])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(5)


def test_render_passes_through() -> None:
    env = TurnBasedGymEnv(openspiel_env("tic_tac_toe", render_mode="ansi"))
    assert env.render_mode == "ansi"
    env.reset()
    env.step(4)
    assert env.render() == "...\n.x.\n..."


def test_chance_game_is_reproducible_with_a_seed() -> None:
    def rollout(seed: int) -> list[Any]:
        env = TurnBasedGymEnv(openspiel_env("kuhn_poker"))
        observation, info = env.reset(seed=seed)
        trace, done = [observation.tolist()], False
        while not done:
            move = int(np.flatnonzero(info["action_mask"])[0])
            observation, reward, done, _, info = env.step(move)
            trace.append((observation.tolist(), reward))
        return trace

    assert rollout(3) == rollout(3)
    assert any(rollout(3) != rollout(seed) for seed in range(4, 10))  # the deal varies


def test_is_aec_env() -> None:
    assert is_aec_env(tictactoe_v3.env()) and is_aec_env(openspiel_env("tic_tac_toe"))
    assert not is_aec_env(gym.make("CartPole-v1")) and not is_aec_env(ToyParallelGame())
    assert is_pettingzoo_env(ToyParallelGame()) and not is_pettingzoo_env("tic_tac_toe")


# ---------------------------------------------------------------- bad input
def test_refuses_more_than_two_agents() -> None:
    with pytest.raises(ValueError, match="exactly two agents .* got 3"):
        TurnBasedGymEnv(ToyGame(num_agents=3, final_reward=(1, -1, 0)))


def test_refuses_parallel_env() -> None:
    with pytest.raises(ValueError, match="simultaneous moves are not supported"):
        TurnBasedGymEnv(ToyParallelGame())


def test_refuses_what_is_not_a_pettingzoo_env() -> None:
    with pytest.raises(TypeError, match="expected a PettingZoo AEC env"):
        TurnBasedGymEnv(gym.make("CartPole-v1"))


def test_refuses_continuous_actions() -> None:
    box = spaces.Box(-1, 1, (2,), np.float32)
    with pytest.raises(ValueError, match="Discrete action space"):
        TurnBasedGymEnv(ToyGame(action_space=box))


def test_refuses_a_game_without_action_mask() -> None:
    with pytest.raises(ValueError, match="no action mask"):
        TurnBasedGymEnv(ToyGame(mask_in="nowhere"))
    TurnBasedGymEnv(ToyGame(mask_in="info"))  # shimmy's way is fine


def test_refuses_non_zero_sum_rewards_while_playing() -> None:
    env = TurnBasedGymEnv(ToyGame(length=3, final_reward=(1.0, 1.0)))
    env.reset(seed=0)
    env.step(0)
    env.step(1)
    with pytest.raises(ValueError, match="not zero-sum"):
        env.step(0)
    fair = TurnBasedGymEnv(ToyGame(length=3, final_reward=(1.0, -1.0)))
    assert [reward for reward, _, _ in play(fair, [0, 1, 0])] == [0, 0, 1]  # p0 moved last


def test_refuses_simultaneous_openspiel_game_through_shimmy() -> None:
    shimmy = pytest.importorskip("shimmy")
    with pytest.raises(ValueError, match="simultaneous moves"):
        TurnBasedGymEnv(shimmy.OpenSpielCompatibilityV0(game_name="matrix_rps"))


# ---------------------------------------------------------------- evaluation
def test_play_games_random_vs_random_alternates_seats() -> None:
    results = play_games(RandomAgent(seed=1), RandomAgent(seed=2), "tic_tac_toe", 10, seed=0)
    assert isinstance(results, MatchResults)
    assert results.agent_seats == (0, 1) * 5
    assert results.wins + results.draws + results.losses == results.n_games == 10
    assert sum(results.record(0)) == sum(results.record(1)) == 5
    again = play_games(RandomAgent(seed=1), RandomAgent(seed=2), "tic_tac_toe", 10, seed=0)
    assert again == results  # seeded agents and games: the same match
    table = str(results)
    assert "random vs random, 10 games" in table and "seat 0 (first)" in table
    assert table.splitlines()[-1].split()[1:] == [
        str(results.wins),
        str(results.draws),
        str(results.losses),
    ]


def test_play_games_on_a_pettingzoo_env_and_a_wrapped_env() -> None:
    results = play_games(RandomAgent(0), RandomAgent(1), tictactoe_v3.env(), 4)
    assert results.game == "tictactoe_v3" and results.n_games == 4
    wrapped = TurnBasedGymEnv(openspiel_env("connect_four"))
    assert play_games(RandomAgent(0), RandomAgent(1), wrapped, 2).n_games == 2


def test_play_games_names_the_player_of_an_illegal_move() -> None:
    class Stubborn:
        name = "stubborn"

        def predict(self, observation: Any, **kwargs: Any) -> tuple[int, None]:
            return 4, None

    with pytest.raises(ValueError, match="opponent stubborn: illegal move 4"):
        play_games(RandomAgent(0), Stubborn(), "tic_tac_toe", 1)


def test_random_agent_needs_a_mask() -> None:
    with pytest.raises(ValueError, match="action_masks"):
        RandomAgent(0).predict(np.zeros(3))
    mask = np.array([0, 0, 1, 0], np.int8)
    assert all(RandomAgent(s).predict(None, action_masks=mask)[0] == 2 for s in range(5))


def test_mcts_bot_beats_random_play() -> None:
    bot = MCTSBotAgent("tic_tac_toe", num_simulations=1000, seed=0)
    results = play_games(bot, RandomAgent(seed=1), "tic_tac_toe", 10, seed=0)
    assert results.losses == 0 and results.wins >= 7, str(results)
    # On PettingZoo's board, translated cell by cell.
    results = play_games(bot, RandomAgent(seed=1), tictactoe_v3.env(), 10, seed=0)
    assert results.losses == 0 and results.wins >= 7, str(results)


def test_mcts_bots_draw_each_other_at_tic_tac_toe() -> None:
    strong = MCTSBotAgent("tic_tac_toe", num_simulations=1000, seed=0)
    results = play_games(strong, MCTSBotAgent("tic_tac_toe", 1000, seed=1), "tic_tac_toe", 4)
    assert results.draws == 4, str(results)


def test_mcts_bot_needs_the_game_it_was_made_for() -> None:
    bot = MCTSBotAgent("connect_four", num_simulations=10)
    with pytest.raises(RuntimeError, match="play_games or bind"):
        bot.predict(np.zeros((4, 6, 7)), action_masks=np.ones(7))
    with pytest.raises(ValueError, match="plays connect_four"):
        bot.bind(TurnBasedGymEnv(openspiel_env("tic_tac_toe")))
    with pytest.raises(ValueError, match="needs an OpenSpiel env"):
        bot.bind(TurnBasedGymEnv(tictactoe_v3.env()))
    with pytest.raises(ValueError, match="unknown OpenSpiel game"):
        MCTSBotAgent("no_such_game")


def test_human_agent_reads_a_legal_move() -> None:
    env = TurnBasedGymEnv(openspiel_env("tic_tac_toe"))
    observation, _ = env.reset(seed=0)
    observation, _, _, _, info = env.step(4)
    output = io.StringIO()
    human = HumanAgent(input_stream=io.StringIO("centre\n4\n0\n"), output_stream=output)
    human.bind(env)
    action, _ = human.predict(observation, action_masks=info["action_mask"])
    assert action == 0
    shown = output.getvalue()
    assert ".x." in shown and "not a number" in shown and "4 is not a legal move" in shown
    with pytest.raises(EOFError):
        HumanAgent(io.StringIO(""), io.StringIO()).predict(None, action_masks=np.ones(9))


def test_human_agent_plays_a_whole_game_on_pettingzoo_tictactoe() -> None:
    output = io.StringIO()
    # As first player: 0, 1, 2 is a line (a column on PettingZoo's board); the opponent
    # plays random moves, so offer every cell in order and let illegal ones be refused.
    moves = "\n".join(str(cell) for cell in [0, 1, 2, 3, 4, 5, 6, 7, 8] * 5) + "\n"
    human = HumanAgent(io.StringIO(moves), output)
    results = play_games(human, RandomAgent(0), tictactoe_v3.env(), 1)
    assert results.n_games == 1
    assert "X . ." in output.getvalue()  # the board, drawn by column as PettingZoo numbers it
