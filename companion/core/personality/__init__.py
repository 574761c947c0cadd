"""The companion's personality: pure logic, no I/O (design seed 003).

``traits``    Big Five traits and the PAD mood model (baseline from traits, octant labels, clamping)
``persona``   persona files (``companion/personas/*.toml``): name, style, backstory, Big Five
``appraisal`` OCC appraisal: how a user message moves the mood, with the cause recorded
``needs``     psychological needs that grow with time and are satisfied by interactions
``quirks``    behavioural quirks that emerge, strengthen and fade
``state``     the per (user, persona) state and the engine that updates it for one interaction or for time
"""
