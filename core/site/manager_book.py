"""The site's manager view (issue 14 item 2): each account manager's book and service record.

One summary table, ``summary_manager_book``, computed at publish time like the
others in ``specs.SUMMARIES`` (which appends it): per branch and manager, the
clients by class, open and overdue tasks assigned to them, callbacks done on
time and late, and the average satisfaction of their clients. A manager's own
view is this table filtered to them (``/<db>/summary_manager_book?manager=ID``);
a branch snapshot holds its own branch's rows only. Clients without a manager
show as ``(未指派)``. It needs ``clients.account_manager`` and ``tasks.assignee``
published (operator ids, not personal data).
"""

SUMMARY = dict(
    table="summary_manager_book",
    requires=("clients", "classifications", "tasks", "interactions"),
    sql="""WITH per_class AS (
             SELECT c.branch_id, COALESCE(c.account_manager, '(未指派)') AS manager,
                    COALESCE(k.class, '未分类') AS class, count(*) AS n
             FROM clients c LEFT JOIN classifications k ON k.client_id = c.client_id GROUP BY 1, 2, 3),
           book AS (
             SELECT branch_id, manager, sum(n) AS clients, group_concat(class || ':' || n, ' ') AS classes
             FROM (SELECT * FROM per_class ORDER BY class) GROUP BY 1, 2),
           work AS (
             SELECT branch_id, assignee AS manager, sum(status = 'open') AS open_tasks,
                    sum(status = 'open' AND due_at < :now) AS overdue_tasks,
                    sum(kind = 'callback' AND status = 'done' AND done_at <= due_at) AS callbacks_on_time,
                    sum(kind = 'callback' AND status = 'done' AND done_at > due_at) AS callbacks_late
             FROM tasks WHERE assignee IS NOT NULL GROUP BY 1, 2),
           score AS (
             SELECT c.branch_id, COALESCE(c.account_manager, '(未指派)') AS manager,
                    round(avg(i.satisfaction), 2) AS satisfaction, count(*) AS scores
             FROM interactions i JOIN clients c ON c.client_id = i.client_id
             WHERE i.satisfaction IS NOT NULL GROUP BY 1, 2)
           SELECT b.branch_id, b.manager, b.clients, b.classes,
                  COALESCE(w.open_tasks, 0) AS open_tasks, COALESCE(w.overdue_tasks, 0) AS overdue_tasks,
                  COALESCE(w.callbacks_on_time, 0) AS callbacks_on_time,
                  COALESCE(w.callbacks_late, 0) AS callbacks_late, s.satisfaction, COALESCE(s.scores, 0) AS scores
           FROM book b LEFT JOIN work w USING (branch_id, manager) LEFT JOIN score s USING (branch_id, manager)""",
    title="客户经理名下客户与服务",
    description="每位客户经理名下各类别客户数、未办与逾期任务、回访按时情况与客户平均满意度 (each manager's book)",
    indexes=(("manager",),),
    labels={"branch_id": "营业部", "manager": "客户经理", "clients": "客户数", "classes": "按类别",
            "open_tasks": "未办任务", "overdue_tasks": "逾期任务", "callbacks_on_time": "按时回访",
            "callbacks_late": "逾期回访", "satisfaction": "平均满意度", "scores": "评分次数"},
)
