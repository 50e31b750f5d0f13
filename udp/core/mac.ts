/**
 * Pure MAC (Ethernet hardware) address arithmetic — seed 004's 「前六位是厂商号,后六位是流水号」.
 *
 * Theory of operation. A MAC address is 48 bits, written as 12 hex digits (seed 004's 「12位编号」
 * counts hex digits, not bits). The first 3 bytes (6 hex digits) are the OUI, the vendor number the
 * IEEE assigns; the last 3 bytes (6 hex digits) are the vendor's serial number. Two bits of the
 * first byte say how to read the rest (IEEE 802):
 * - I/G, bit 0 (value 0x01): 0 = individual (unicast), 1 = group (multicast); all 48 bits set is
 *   the broadcast address ff:ff:ff:ff:ff:ff that ARP requests go to (seed 002).
 * - U/L, bit 1 (value 0x02): 0 = universally administered (the globally unique burned-in
 *   address), 1 = locally administered (set by software: VMs, containers, randomised Wi-Fi MACs),
 *   in which case the first 6 hex digits are not a vendor's.
 * Ethernet sends each byte least significant bit first, so the I/G bit is the very first bit on
 * the wire — a switch knows whether to flood a frame before it has read the rest.
 *
 * Accepted notations (strict: one notation per address, no mixing): `AA:BB:CC:DD:EE:FF` (IEEE,
 * Linux), `aa-bb-cc-dd-ee-ff` (IEEE 802 canonical, Windows), `aabb.ccdd.eeff` (Cisco). Malformed
 * text throws `SyntaxError` with a one-line message. No I/O: `udp/subnet.ts mac` prints it.
 */

import { quoteInput } from "../../tcp/core/printable.ts";

/** Input longer than this is refused before looking at it (the longest valid MAC has 17). */
export const MAX_MAC_INPUT_LENGTH = 64;

/** The I/G bit of the first byte: 1 = group (multicast) address. */
export const GROUP_BIT = 0x01;

/** The U/L bit of the first byte: 1 = locally administered address. */
export const LOCAL_BIT = 0x02;

/** How a frame to this address is delivered. */
export type MacCast = "unicast" | "multicast" | "broadcast";

/** Who assigned the address: the IEEE via the vendor's OUI, or local software. */
export type MacAdministration = "global" | "local";

/** Everything `mac` shows about one address. */
export interface MacInfo {
  /** The 6 bytes, most significant first. */
  bytes: Uint8Array;
  /** The 12 hex digits, upper case: `AABBCCDDEEFF`. */
  hex: string;
  /** `aa:bb:cc:dd:ee:ff`. */
  colon: string;
  /** `aa-bb-cc-dd-ee-ff`. */
  dash: string;
  /** `aabb.ccdd.eeff`. */
  cisco: string;
  /** 48 binary digits in 6 groups of 8 separated by spaces. */
  binary: string;
  /** First 6 hex digits: the vendor (Organizationally Unique Identifier). */
  oui: string;
  /** Last 6 hex digits: the vendor's serial number for this interface. */
  serial: string;
  /** I/G bit (0 or 1). */
  groupBit: number;
  /** U/L bit (0 or 1). */
  localBit: number;
  cast: MacCast;
  administration: MacAdministration;
}

const NOTATIONS: { name: string; pattern: RegExp }[] = [
  {
    name: "colon",
    pattern:
      /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i,
  },
  {
    name: "dash",
    pattern:
      /^([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})$/i,
  },
  { name: "cisco", pattern: /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i },
];

/** Parses `AA:BB:CC:DD:EE:FF`, `aa-bb-cc-dd-ee-ff` or `aabb.ccdd.eeff` into 6 bytes. */
export function parseMac(text: string): Uint8Array {
  if (text.length > MAX_MAC_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid MAC address ${quoteInput(`${text.slice(0, 20)}…`)}: too long`);
  }
  for (const { pattern } of NOTATIONS) {
    const match = pattern.exec(text);
    if (!match) continue;
    const hex = match.slice(1).join("");
    const bytes = new Uint8Array(6);
    for (let i = 0; i < 6; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return bytes;
  }
  const stray = /[^0-9a-f:.-]/i.exec(text)?.[0];
  const digits = text.replace(/[:.-]/g, "").length;
  const why = stray !== undefined
    ? `${quoteInput(stray)} is not a hex digit`
    : digits !== 12
    ? `expected 12 hex digits (48 bits), got ${digits}`
    : "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff";
  throw new SyntaxError(`Invalid MAC address ${quoteInput(text)}: ${why}`);
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Splits a MAC into OUI and serial and reads its I/G and U/L bits. */
export function describeMac(bytes: Uint8Array): MacInfo {
  if (bytes.length !== 6) throw new RangeError(`A MAC address has 6 bytes, got ${bytes.length}`);
  const lower = hexOf(bytes);
  const pairs = lower.match(/../g) ?? [];
  const groupBit = bytes[0] & GROUP_BIT;
  const localBit = (bytes[0] & LOCAL_BIT) >> 1;
  const broadcast = bytes.every((b) => b === 0xff);
  return {
    bytes: bytes.slice(),
    hex: lower.toUpperCase(),
    colon: pairs.join(":"),
    dash: pairs.join("-"),
    cisco: `${lower.slice(0, 4)}.${lower.slice(4, 8)}.${lower.slice(8)}`,
    binary: Array.from(bytes, (b) => b.toString(2).padStart(8, "0")).join(" "),
    oui: lower.slice(0, 6).toUpperCase(),
    serial: lower.slice(6).toUpperCase(),
    groupBit,
    localBit,
    cast: broadcast ? "broadcast" : groupBit ? "multicast" : "unicast",
    administration: localBit ? "local" : "global",
  };
}

/** Renders a `MacInfo` as aligned lines: notations, 48 bits, OUI, serial, I/G and U/L bits. */
export function formatMac(info: MacInfo): string[] {
  const row = (name: string, value: string, note = "") =>
    `${name.padEnd(9)} ${value}${note ? `  ${note}` : ""}`;
  const cast = info.cast === "broadcast"
    ? "broadcast: all 48 bits set, every host on the LAN (ARP requests)"
    : info.cast === "multicast"
    ? "multicast (group address)"
    : "unicast (one interface)";
  const administration = info.cast === "broadcast"
    ? "set, as every bit of the broadcast address is"
    : info.administration === "local"
    ? "locally administered (set by software; the OUI is not a vendor's)"
    : "globally unique (burned in; the OUI is the vendor's)";
  const vendorOwned = info.cast !== "broadcast" && info.administration === "global";
  const ouiNote = info.cast === "broadcast"
    ? "no vendor (broadcast)"
    : info.administration === "local"
    ? "no vendor (locally administered)"
    : "vendor number (IEEE-assigned OUI)";
  return [
    row("mac", `${info.colon.toUpperCase()}  ${info.dash}  ${info.cisco}`),
    row("hex", info.hex, "12 hex digits = 48 bits"),
    row("bits", info.binary),
    row("OUI", info.oui, `first 6 hex digits: ${ouiNote}`),
    row(
      "serial",
      info.serial,
      `last 6 hex digits: ${
        vendorOwned ? "the vendor's serial number" : "the rest of the address"
      }`,
    ),
    row("I/G bit", String(info.groupBit), `bit 0 of byte 0: ${cast}`),
    row("U/L bit", String(info.localBit), `bit 1 of byte 0: ${administration}`),
  ];
}
