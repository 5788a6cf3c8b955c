"""The conversation domain, part by part, as the composition root (assembly.py) built it: each
caller outside the domain holds the one part it uses, and none goes through the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

from .agent_cache import AgentCache
from .conversations import ChatService
from .grace import GracePeriods
from .presence import PresenceChanges
from .queue import WaitingQueue
from .read_marks import ReadMarks
from .repair import RoutingRepair
from .restore import Restorer
from .routing import Dispatcher
from .tasks import TaskSupervisor
from .transfers import Transfers


@dataclass(frozen=True)
class ChatParts:
    # Start, message, page, typing, rate, close, the periodic sweep and a clean stop.
    lifecycle: ChatService
    # Routing: waiting chats to agents, and agents' manual takes.
    dispatcher: Dispatcher
    # The queue's order, its view and the wait estimates.
    queue: WaitingQueue
    grace: GracePeriods
    # Agents and visitors connecting, leaving, changing status; withdrawn agents.
    presence_changes: PresenceChanges
    transfers: Transfers
    read_marks: ReadMarks
    # The routing state rebuilt from the database (start-up, and the heartbeat's repair).
    restorer: Restorer
    # Whether that repair is needed.
    repair: RoutingRepair
    # The agents routing holds a copy of.
    agent_cache: AgentCache
    # Background work (routing, grace timers, read marks), cancelled at shutdown.
    tasks: TaskSupervisor
