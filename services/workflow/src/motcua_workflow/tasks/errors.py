"""Problems the task endpoints answer."""

from motcua.errors import Conflict, NotFound


class TaskNotFound(NotFound):
    code = "task.not_found"
    title = "Task not found"


class TaskClosed(Conflict):
    code = "task.closed"
    title = "The task is done or cancelled"


class TaskAlreadyClaimed(Conflict):
    code = "task.claimed_by_other"
    title = "The task is claimed by another officer"
