-- A take in Ardour 7, headless (ardour7-lua): the host test of the Synesthete plugin.
--
-- ardour.py writes `CFG = {...}` above this script and runs it. It makes (or reopens) a
-- session on Ardour's Dummy backend, puts the plugin (LV2, or VST3 with format = "VST3") on
-- MIDI tracks, a logger after it
-- (syn_logger.lua: every MIDI event the plugin wrote, at its transport sample) and, for
-- `record = true`, routes the plugin's track into a second, record-armed track, so Ardour
-- records the take as a user's would. Then it plays CFG.actions and prints what happened:
--   EV <track> <sample> <status> <data1> <data2> <count>   each event the plugin wrote (count: on a
--                                                  running count of samples, for a stopped transport)
--   NOTE <track> <beats:ticks> <length beats:ticks> <pitch> <velocity>   Ardour's recording
--   PARAM <track> <index> <value>                  the plugin's parameters (outputs included)
--   AT <sample> <rolling>                          the transport, after each action
--   READY <1|0>                                    whether every plugin said Ready in time

local function say (...)
	local parts = {}
	for i, v in ipairs ({...}) do parts[i] = tostring (v) end
	io.stdout:write (table.concat (parts, " ") .. "\n")
	io.stdout:flush ()
end

local backend = AudioEngine:set_backend ("None (Dummy)", "", "")
assert (backend, "Ardour's Dummy backend is hidden (hide-dummy-backend)")
backend:set_device_name ("Silence")
backend:set_sample_rate (CFG.rate)
backend:set_buffer_size (CFG.buffer)
assert (AudioEngine:start (false) == 0, "the audio engine did not start")

local tracks = {}

-- Our parameter k is the plugin's parameter base + k: 0 in the LV2 build; in the VST3 build DPF
-- puts 2080 hidden MIDI-CC parameters first (VST3 has no CC events).
local function param_base (proc)
	local plug = proc:to_insert ():plugin (0)
	for i = 0, plug:parameter_count () - 1 do
		local port = plug:nth_parameter (i, true)
		if plug:parameter_label (port) == "Valence" then return i end
	end
	error ("no Valence parameter")
end

if CFG.load then
	assert (load_session (CFG.dir, CFG.name), "could not reopen the session")
	for i, t in ipairs (CFG.tracks) do
		local route = Session:route_by_name (t.name)
		assert (not route:isnil (), "no track " .. t.name)
		local proc = route:nth_plugin (0)
		local logger = route:nth_plugin (1)
		tracks[i] = { route = route:to_track (), proc = proc, logger = logger }
	end
else
	assert (create_session (CFG.dir, CFG.name, CFG.rate), "could not create the session")
	local function midi_track (name)
		local midi = ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1)
		local tl = Session:new_midi_track (midi, midi, false, ARDOUR.PluginInfo (), nil, nil, 1, name,
			ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
		return tl:front ()
	end
	if CFG.tempo then
		local tm = Temporal.TempoMap.fetch_writable ()
		for _, t in ipairs (CFG.tempo) do
			tm:set_tempo (Temporal.Tempo (t[2], t[2], 4), Temporal.timepos_t.from_ticks (Temporal.ticks_per_beat * t[1]))
		end
		Temporal.TempoMap.update (tm)
	end
	for i, t in ipairs (CFG.tracks) do
		local route = midi_track (t.name)
		local proc
		if t.format == "VST3" then
			proc = ARDOUR.LuaAPI.new_plugin (Session, "Synesthete", ARDOUR.PluginType.VST3, "")
		else
			proc = ARDOUR.LuaAPI.new_plugin (Session, "urn:synesthete:plugin", ARDOUR.PluginType.LV2, "")
		end
		assert (not proc:isnil (), "the Synesthete " .. (t.format or "LV2") .. " plugin is not where Ardour looks")
		assert (route:add_processor_by_index (proc, 0, nil, true) == 0)
		local logger = ARDOUR.LuaAPI.new_plugin (Session, "Synesthete Test Logger", ARDOUR.PluginType.Lua, "")
		assert (not logger:isnil (), "the logger script is not in Ardour's script path")
		assert (route:add_processor_by_index (logger, 1, nil, true) == 0)
		if t.preset then
			local plug = proc:to_insert ():plugin (0)
			assert (plug:load_preset (plug:preset_by_label (t.preset)), "no preset " .. t.preset)
		end
		for k, v in pairs (t.params or {}) do
			ARDOUR.LuaAPI.set_processor_param (proc, param_base (proc) + k, v)
		end
		route:input ():disconnect_all (nil)   -- the plugin's own music only
		tracks[i] = { route = route, proc = proc, logger = logger }
		if t.record then
			local rec = midi_track (t.name .. " rec")
			rec:input ():disconnect_all (nil)
			route:output ():disconnect_all (nil)
			rec:input ():connect (rec:input ():nth (0), route:output ():nth (0):name (), nil)
			rec:rec_enable_control ():set_value (1, PBD.GroupControlDisposition.NoGroup)
			tracks[i].rec = rec
		end
	end
end

local function at ()
	say ("AT", Session:transport_sample (), Session:transport_rolling () and 1 or 0)
end

local function params ()
	for i, t in ipairs (tracks) do
		for k = 0, 14 do
			local value = ARDOUR.LuaAPI.get_processor_param (t.proc, param_base (t.proc) + k, true)
			say ("PARAM", i, k, value)
		end
	end
end

for _, a in ipairs (CFG.actions) do
	local what = a[1]
	if what == "wait" then
		ARDOUR.LuaAPI.usleep (math.floor (a[2] * 1e6))
	elseif what == "roll" then
		if CFG.record then Session:maybe_enable_record (false) end
		Session:request_roll (ARDOUR.TransportRequestSource.TRS_UI)
	elseif what == "until" then           -- wait for the transport to pass a sample
		local deadline = os.time () + 120
		while Session:transport_sample () < a[2] and os.time () < deadline do
			ARDOUR.LuaAPI.usleep (2000)
		end
	elseif what == "stop" then
		Session:request_stop (false, false, ARDOUR.TransportRequestSource.TRS_UI)
		local deadline = os.time () + 10
		while Session:transport_rolling () and os.time () < deadline do ARDOUR.LuaAPI.usleep (2000) end
	elseif what == "locate" then
		Session:request_locate (a[2], false, ARDOUR.LocateTransportDisposition.MustRoll,
			ARDOUR.TransportRequestSource.TRS_UI)
	elseif what == "ready" then          -- wait until every plugin says Ready (its music is composed)
		ARDOUR.LuaAPI.usleep (300000)     -- settings just given reach the plugin on its next cycles
		local deadline = os.time () + a[2]
		local ready = false
		while not ready and os.time () < deadline do
			ready = true
			for _, t in ipairs (tracks) do
				local status = ARDOUR.LuaAPI.get_processor_param (t.proc, param_base (t.proc) + 11, true)
				if status ~= 1 then ready = false end
			end
			if not ready then ARDOUR.LuaAPI.usleep (20000) end
		end
		say ("READY", ready and 1 or 0)
	elseif what == "param" then
		local proc = tracks[a[2]].proc
		ARDOUR.LuaAPI.set_processor_param (proc, param_base (proc) + a[3], a[4])
	elseif what == "mark" then          -- tell the driver (it watches stdout)
		say ("MARK", a[2], Session:transport_sample ())
	elseif what == "params" then
		params ()
	elseif what == "save" then
		Session:save_state ("", false, false, false, false, false)
	end
	at ()
end

if CFG.record then Session:disable_record (false, false) end

for i, t in ipairs (tracks) do
	local shm = t.logger:to_insert ():plugin (0):to_luaproc ():shmem ()
	local n = shm:atomic_get_int (0)
	local ev = shm:to_int (2):array ()
	for k = 0, n - 1 do
		say ("EV", i, ev[k * 5 + 1], ev[k * 5 + 2], ev[k * 5 + 3], ev[k * 5 + 4], ev[k * 5 + 5])
	end
	if t.rec then
		for r in t.rec:playlist ():region_list ():iter () do
			local mr = r:to_midiregion ()
			say ("REGION", i, r:position ():samples (), r:length ():samples ())
			for note in ARDOUR.LuaAPI.note_list (mr:model ()):iter () do
				say ("NOTE", i, note:time ():str (), note:length ():str (), note:note (), note:velocity ())
			end
		end
	end
end
params ()
if CFG.save then Session:save_state ("", false, false, false, false, false) end
close_session ()
say ("DONE")
