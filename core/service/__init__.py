"""Client service: interactions, tasks, complaints, care, retention, service packages.

- ``policy``: the service policy (touchpoints, SLAs, working days).
- ``schema``: the ``brokercrm.service`` migration set.
- ``tasks``: the task engine, an events listener turning events into due tasks.
- ``interactions``: logged interactions (touchpoints) and their import.
- ``complaints``, ``care``, ``retention``: their workflows.
- ``packages``: choosing a service package for a client.
- ``view``: what ``clients show`` adds.
"""
