-- Wireshark dissector for the key automat board protocol (firmware-proto/PROTOCOL.md), for the
-- pcap files `hil run --pcap` and `hil sniff --pcap` write (link type USER0, 147):
--
--   tshark -X lua_script:hil/wireshark/key_automat.lua -r run.pcap
--   wireshark -X lua_script:hil/wireshark/key_automat.lua run.pcap
--
-- or copy this file into Wireshark's personal plugins folder. Each packet is one byte of
-- direction (bit 0: from the board) and kind (bit 1: wire bytes that are no frame), then the
-- raw frame: the 11-byte header (§2.2), the payload (a kind byte and the postcard body, §3.1)
-- and the CRC-32C, which is checked (§2.4). Messages are named by their channel and direction
-- (a kind byte means one message towards the board and another from it, §3).

local proto = Proto("keyautomat", "Key automat board protocol")

local directions = { [0] = "towards the board", [1] = "from the board" }
local channels = { [0] = "host", [1] = "plant" }

local f = proto.fields
f.direction = ProtoField.uint8("keyautomat.direction", "Direction", base.DEC, directions, 0x01)
f.undecoded = ProtoField.bool("keyautomat.undecoded", "Not a frame", 8, nil, 0x02)
f.version = ProtoField.uint8("keyautomat.version", "Protocol version")
f.channel = ProtoField.uint8("keyautomat.channel", "Channel", base.DEC, channels)
f.flags = ProtoField.uint8("keyautomat.flags", "Flags", base.HEX)
f.flag_data = ProtoField.bool("keyautomat.flags.data", "DATA", 8, nil, 0x01)
f.flag_ack = ProtoField.bool("keyautomat.flags.ack", "ACK", 8, nil, 0x02)
f.stream = ProtoField.uint8("keyautomat.stream", "Stream", base.HEX)
f.seq = ProtoField.uint16("keyautomat.seq", "Seq")
f.base = ProtoField.uint16("keyautomat.base", "Base")
f.ack_stream = ProtoField.uint8("keyautomat.ack_stream", "Ack stream", base.HEX)
f.ack = ProtoField.uint16("keyautomat.ack", "Ack")
f.kind = ProtoField.uint8("keyautomat.kind", "Message kind")
f.message = ProtoField.string("keyautomat.message", "Message")
f.body = ProtoField.bytes("keyautomat.body", "Message body (postcard)")
f.crc = ProtoField.uint32("keyautomat.crc", "CRC-32C", base.HEX)
f.crc_good = ProtoField.bool("keyautomat.crc_good", "CRC good")
f.wire = ProtoField.bytes("keyautomat.wire", "Wire bytes")

local bad_crc = ProtoExpert.new("keyautomat.bad_crc", "CRC-32C mismatch", expert.group.CHECKSUM, expert.severity.ERROR)
local no_frame = ProtoExpert.new("keyautomat.no_frame", "Bytes that are no frame", expert.group.MALFORMED, expert.severity.WARN)
proto.experts = { bad_crc, no_frame }

-- BEGIN GENERATED: message names by kind, from firmware-proto (`UPDATE_DISSECTOR=1 cargo test -p hil --test wireshark`)
local host_to_board = { [0] = "Hello", [1] = "Home", [2] = "PresentSlot", [3] = "UnlockDoor", [4] = "LockDoor", [5] = "ReadTag", [6] = "Status", [7] = "SetIndicator", [8] = "ShowText", [9] = "Ping" }
local board_to_host = { [0] = "Hello", [1] = "Booted", [2] = "Homed", [3] = "SlotPresented", [4] = "PresentFailed", [5] = "DoorUnlocked", [6] = "DoorOpened", [7] = "DoorClosed", [8] = "UnlockExpired", [9] = "DoorForced", [10] = "TagRead", [11] = "Occupancy", [12] = "MotorFault", [13] = "Tamper", [14] = "Power", [15] = "Heartbeat", [16] = "Status", [17] = "Pong", [18] = "Rejected" }
local board_to_plant = { [0] = "MotorMove", [1] = "MotorStop", [2] = "LockCoil", [3] = "Indicator", [4] = "Display", [5] = "ReadTag", [6] = "ReadSensors", [7] = "ClockAck" }
local plant_to_board = { [0] = "MoveDone", [1] = "HomeSensor", [2] = "DoorSwitch", [3] = "TagResult", [4] = "Occupancy", [5] = "Sensors", [6] = "Power", [7] = "Tamper", [8] = "ClockTick", [9] = "ClockJump" }
-- END GENERATED

-- message names: [channel][from board]
local names = {
    [0] = { [0] = host_to_board, [1] = board_to_host },
    [1] = { [0] = plant_to_board, [1] = board_to_plant },
}

-- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as §2.4 gives it.
local crc_table = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if bit32.band(c, 1) == 1 then
            c = bit32.bxor(bit32.rshift(c, 1), 0x82F63B78)
        else
            c = bit32.rshift(c, 1)
        end
    end
    crc_table[i] = c
end

local function crc32c(tvb, offset, length)
    local crc = 0xFFFFFFFF
    for i = offset, offset + length - 1 do
        local b = tvb(i, 1):uint()
        crc = bit32.bxor(crc_table[bit32.band(bit32.bxor(crc, b), 0xFF)], bit32.rshift(crc, 8))
    end
    return bit32.bxor(crc, 0xFFFFFFFF)
end

local HEADER_LEN = 11
local CRC_LEN = 4

function proto.dissector(tvb, pinfo, tree)
    if tvb:len() < 1 then return 0 end
    pinfo.cols.protocol = "KEYAUTOMAT"
    local first = tvb(0, 1):uint()
    local from_board = bit32.band(first, 1)
    local root = tree:add(proto, tvb(), "Key automat board protocol")
    root:add(f.direction, tvb(0, 1))
    root:add(f.undecoded, tvb(0, 1))
    local arrow = from_board == 1 and "board →" or "→ board"
    if bit32.band(first, 2) ~= 0 or tvb:len() < 1 + HEADER_LEN + CRC_LEN then
        root:add(f.wire, tvb(1))
        root:add_proto_expert_info(no_frame)
        pinfo.cols.info = string.format("%s %d bytes that are no frame", arrow, tvb:len() - 1)
        return tvb:len()
    end
    local frame = tvb(1):tvb()
    local len = frame:len()
    root:add(f.version, frame(0, 1))
    local channel = frame(1, 1):uint()
    root:add(f.channel, frame(1, 1))
    local flags = frame(2, 1):uint()
    local flags_item = root:add(f.flags, frame(2, 1))
    flags_item:add(f.flag_data, frame(2, 1))
    flags_item:add(f.flag_ack, frame(2, 1))
    root:add(f.stream, frame(3, 1))
    root:add_le(f.seq, frame(4, 2))
    root:add_le(f.base, frame(6, 2))
    root:add(f.ack_stream, frame(8, 1))
    root:add_le(f.ack, frame(9, 2))
    local payload_len = len - HEADER_LEN - CRC_LEN
    local what = "ack"
    if bit32.band(flags, 1) == 1 and payload_len > 0 then
        local kind = frame(HEADER_LEN, 1):uint()
        local set = names[channel] and names[channel][from_board]
        local name = set and set[kind] or string.format("unknown kind %d", kind)
        root:add(f.kind, frame(HEADER_LEN, 1))
        root:add(f.message, frame(HEADER_LEN, 1), name)
        if payload_len > 1 then
            root:add(f.body, frame(HEADER_LEN + 1, payload_len - 1))
        end
        what = name
    end
    local crc_range = frame(len - CRC_LEN, CRC_LEN)
    root:add_le(f.crc, crc_range)
    local good = crc32c(frame, 0, len - CRC_LEN) == crc_range:le_uint()
    root:add(f.crc_good, crc_range, good)
    if not good then
        root:add_proto_expert_info(bad_crc)
    end
    local seq = frame(4, 2):le_uint()
    local ack = ""
    if bit32.band(flags, 2) == 2 then
        ack = string.format(" ack %02x:%d", frame(8, 1):uint(), frame(9, 2):le_uint())
    end
    pinfo.cols.info = string.format("%s %s stream %02x seq %d%s %s", arrow, channels[channel] or "?",
        frame(3, 1):uint(), seq, ack, what)
    return tvb:len()
end

DissectorTable.get("wtap_encap"):add((wtap_encaps or wtap).USER0, proto)
