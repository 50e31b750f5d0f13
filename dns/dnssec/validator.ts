/**
 * A DNSSEC validator: builds the chain of trust from a trust anchor down to an answer and says
 * Secure, Insecure, Bogus (with the reason) or Indeterminate (RFC 4033 §5, RFC 4035 §5).
 *
 * Theory of operation. Every signed RRset names its signer (the zone). To trust a zone's keys:
 * - the anchor's zone (the root): its DNSKEY RRset must contain a key matching the anchor and
 *   be signed by it;
 * - any other zone: ask for its DS — the parent answers, and signs it. Trust the parent first
 *   (recursively, up to the anchor), verify the DS with the parent's keys, then fetch the zone's
 *   DNSKEY RRset and trust it through the DS. If the parent instead *proves* there is no DS
 *   (NSEC/NSEC3 at the delegation), the zone is unsigned: everything below it is Insecure.
 * Then each RRset of the answer is verified with its zone's keys (a wildcard expansion also
 * needs proof that no closer name exists), and a negative answer's NSEC/NSEC3 records must
 * prove the NXDOMAIN or NODATA. The pure checks live in `dns/dnssec/validate.ts` and
 * `dns/dnssec/denial_check.ts`; this module only fetches (through a `Fetch` it is given: a stub
 * resolver, or the iterative resolver of `dns/resolver/iterative.ts`) and keeps a log of why each step is
 * trusted — what `query.ts +trace +validate` prints.
 *
 * One validator serves many validations, also at once (a resolver's clients): what it learnt
 * about a zone's keys is remembered for as long as the DNSKEY and DS records allow (their TTL),
 * a zone found Bogus for `BOGUS_TTL_SECONDS` (unbound's val-bogus-ttl: a broken zone must not cost
 * a validation at every question), and concurrent validations needing the same zone share one
 * look at it.
 *
 * The root KSK of the real Internet (key 20326, RFC 9718 / IANA root-anchors.xml) is built in.
 */
import { encodeMessage, type Message } from "../wire/message.ts";
import { nameKey, strictlyBelow } from "../wire/names.ts";
import { RCODE, TYPE, typeName } from "../wire/constants.ts";
import { EDNS_UDP_SIZE } from "../wire/edns.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { algorithmName, type DsData, fromHex, keyTag } from "../wire/dnssec_rdata.ts";
import { EDE, edeOption } from "../wire/ede.ts";
import {
  anchorFromRecords,
  type KeysetProof,
  signaturesOver,
  sigTimeText,
  type TrustAnchor,
  ValidationFailure,
  type Verdict,
  verifyKeyset,
  verifyRRset,
  type ZoneKeys,
} from "./validate.ts";
import { checkNodata, checkNoDs, checkNxdomain, checkWildcard } from "./denial_check.ts";
import { parseZone } from "../zone/parse.ts";

/** The root zone's KSK-2017 (tag 20326) as IANA publishes its DS (root-anchors.xml). */
export const ROOT_TRUST_ANCHOR: TrustAnchor = {
  zone: ".",
  ds: [{
    kind: "DS",
    keyTag: 20326,
    algorithm: 8,
    digestType: 2,
    digest: fromHex("E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"),
  }],
  keys: [],
};

/** How long a Bogus verdict is remembered (unbound's val-bogus-ttl), in seconds. */
export const BOGUS_TTL_SECONDS = 60;
/** Longest a zone's trusted keys are remembered without asking again, in seconds. */
const MAX_TRUST_SECONDS = 86_400;
/** Most zones remembered (then the memory starts afresh). */
const MAX_TRUSTED_ZONES = 10_000;

/** What a fetch returns: the reply's rcode and sections (RRSIGs and NSECs included). */
export interface Fetched {
  rcode: number;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** The zone whose server answered, when the fetcher knows it (iterative resolution). */
  zone?: string;
}

/** Fetches `name`/`type` with DO=1 (and CD=1 through a recursive server). */
export type Fetch = (name: string, type: number) => Promise<Fetched>;

/** The verdict and its story. */
export interface Validation {
  verdict: Verdict;
  /** Why it is not Secure (one sentence). */
  reason?: string;
  /** The RFC 8914 code for a Bogus or Indeterminate verdict. */
  ede?: number;
  /** One line per step of the chain, parent first: which key signed what, and why it is trusted. */
  steps: string[];
}

type ZoneTrust =
  | { state: "secure"; keys: ZoneKeys }
  | { state: "insecure"; why: string };

/** One validation: the steps it tells and how it fetches. */
interface Run {
  steps: string[];
  fetch: Fetch;
}

/** A zone's trust as remembered: settled or still being established; `expires` in seconds. */
interface TrustMemo {
  promise: Promise<ZoneTrust>;
  expires: number;
}

/** The smallest TTL among `records` (seconds), or `fallback` when there are none. */
function smallestTtl(records: readonly ResourceRecord[], fallback: number): number {
  let ttl = Infinity;
  for (const rr of records) ttl = Math.min(ttl, rr.ttl);
  return ttl === Infinity ? fallback : ttl;
}

/** Options for `Validator`. */
export interface ValidatorOptions {
  /** Trust anchors (default: the real root's KSK 20326). */
  anchors?: TrustAnchor[];
  /** The clock, in seconds since 1970 (tests move it). */
  now?: () => number;
}

/** Groups records into RRsets (owner and type), RRSIGs left out. */
function rrsetsOf(records: readonly ResourceRecord[]): ResourceRecord[][] {
  const sets = new Map<string, ResourceRecord[]>();
  for (const rr of records) {
    if (rr.type === TYPE.RRSIG || rr.type === TYPE.OPT) continue;
    const k = `${nameKey(rr.name)}/${rr.type}`;
    const set = sets.get(k);
    if (set) set.push(rr);
    else sets.set(k, [rr]);
  }
  return [...sets.values()];
}

function dsText(ds: DsData): string {
  return `DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType}`;
}

/** Validates answers by building chains of trust; one instance remembers the zones it trusts. */
export class Validator {
  readonly #fetch: Fetch;
  readonly #anchors: TrustAnchor[];
  readonly #now: () => number;
  readonly #trust = new Map<string, TrustMemo>();

  constructor(fetch: Fetch, options: ValidatorOptions = {}) {
    this.#fetch = fetch;
    this.#anchors = options.anchors ?? [ROOT_TRUST_ANCHOR];
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Judges `answer` to `qname`/`qtype`. Never throws for a validation problem (a fetch that
   * fails, e.g. `ResolveError`, is passed on). The steps are this validation's: a zone whose
   * keys were trusted earlier is not told again. `fetch` replaces the validator's own for this
   * validation (a server counts and shows what each client's question cost).
   */
  async validate(
    qname: string,
    qtype: number,
    answer: Fetched,
    { fetch }: { fetch?: Fetch } = {},
  ): Promise<Validation> {
    const steps: string[] = [];
    const run: Run = { steps, fetch: fetch ?? this.#fetch };
    try {
      const insecure = await this.#validateAnswer(qname, qtype, answer, run);
      if (insecure) return { verdict: "insecure", reason: insecure, steps };
      return { verdict: "secure", steps };
    } catch (error) {
      if (!(error instanceof ValidationFailure)) throw error;
      steps.push(`${error.verdict}: ${error.message}`);
      return {
        verdict: error.verdict,
        reason: error.message,
        ede: error.verdict === "insecure" ? undefined : error.ede,
        steps,
      };
    }
  }

  /** Returns undefined when Secure, the reason when Insecure; throws when Bogus. */
  async #validateAnswer(
    qname: string,
    qtype: number,
    answer: Fetched,
    run: Run,
  ): Promise<string | undefined> {
    if (answer.rcode !== RCODE.NOERROR && answer.rcode !== RCODE.NXDOMAIN) {
      throw new ValidationFailure(
        `the answer is rcode ${answer.rcode}`,
        EDE.DNSSEC_INDETERMINATE,
        "indeterminate",
      );
    }
    let insecure: string | undefined;
    const all = [...answer.answers, ...answer.authorities];
    for (const rrset of rrsetsOf(answer.answers)) {
      const sigs = signaturesOver(answer.answers, rrset[0].name, rrset[0].type);
      const signer = sigs[0]?.data.kind === "RRSIG" ? sigs[0].data.signerName : undefined;
      const zone = signer ?? answer.zone ?? await this.#zoneOf(rrset[0].name, run);
      const trust = await this.#trustZone(zone, run);
      if (trust.state === "insecure") {
        insecure ??= trust.why;
        continue;
      }
      const proof = await verifyRRset(rrset, sigs, trust.keys, this.#now());
      const line = `${rrset[0].name} ${typeName(rrset[0].type)} (${rrset.length} record${
        rrset.length > 1 ? "s" : ""
      }): signed by ${zone} key ${proof.tag}, valid until ${sigTimeText(proof.sig.expiration)}`;
      if (proof.wildcard) {
        await this.#verifyDenialRecords(answer.authorities, trust.keys);
        const denial = checkWildcard(answer.authorities, rrset[0].name, proof.wildcard, zone);
        run.steps.push(`${line}; expanded from ${proof.wildcard}: ${denial.how}`);
      } else {
        run.steps.push(line);
      }
    }
    const final = finalName(qname, qtype, answer.answers);
    const answered = answer.answers.some((rr) =>
      nameKey(rr.name) === nameKey(final) && (rr.type === qtype || qtype === 255)
    );
    if (answered && answer.rcode === RCODE.NOERROR) return insecure;
    // A negative answer: the SOA says which zone denies, its NSEC/NSEC3 records prove it.
    const soa = answer.authorities.find((rr) => rr.type === TYPE.SOA);
    if (!soa) {
      throw new ValidationFailure(`the negative answer for ${final} has no SOA`, EDE.DNSSEC_BOGUS);
    }
    const trust = await this.#trustZone(soa.name, run);
    if (trust.state === "insecure") return insecure ?? trust.why;
    const soaProof = await verifyRRset([soa], all, trust.keys, this.#now());
    await this.#verifyDenialRecords(answer.authorities, trust.keys);
    const denial = answer.rcode === RCODE.NXDOMAIN
      ? checkNxdomain(answer.authorities, final, soa.name)
      : checkNodata(answer.authorities, final, qtype, soa.name);
    run.steps.push(
      `${answer.rcode === RCODE.NXDOMAIN ? "NXDOMAIN" : "NODATA"} for ${final} ${
        typeName(qtype)
      }: SOA signed by ${soa.name} key ${soaProof.tag}; ${denial.how}`,
    );
    if (denial.optOut && answer.rcode === RCODE.NXDOMAIN) {
      return insecure ??
        `${final} is covered by an opt-out NSEC3: an unsigned delegation may exist`;
    }
    return insecure;
  }

  /** Verifies every NSEC and NSEC3 RRset among `records` with the zone's keys. */
  async #verifyDenialRecords(records: readonly ResourceRecord[], keys: ZoneKeys): Promise<void> {
    for (const rrset of rrsetsOf(records)) {
      if (rrset[0].type !== TYPE.NSEC && rrset[0].type !== TYPE.NSEC3) continue;
      await verifyRRset(rrset, records, keys, this.#now());
    }
  }

  /** The zone holding `name` (for an unsigned answer): the SOA a query for it shows. */
  async #zoneOf(name: string, run: Run): Promise<string> {
    const reply = await run.fetch(name, TYPE.SOA);
    const soa = [...reply.answers, ...reply.authorities].find((rr) => rr.type === TYPE.SOA);
    if (!soa) {
      throw new ValidationFailure(
        `cannot tell which zone holds ${name}`,
        EDE.DNSSEC_INDETERMINATE,
        "indeterminate",
      );
    }
    return soa.name;
  }

  /**
   * How far `zone`'s keys are trusted. Throws `ValidationFailure` when Bogus. Remembered: a
   * trusted zone for its records' TTL, a Bogus one for `BOGUS_TTL_SECONDS`; a failed fetch is
   * not remembered.
   */
  #trustZone(zone: string, run: Run): Promise<ZoneTrust> {
    const key = nameKey(zone);
    const known = this.#trust.get(key);
    if (known && known.expires > this.#now()) return known.promise;
    if (this.#trust.size >= MAX_TRUSTED_ZONES) this.#trust.clear();
    // Until it settles, everyone asking shares the one look at the zone.
    const memo: TrustMemo = {
      expires: Infinity,
      promise: this.#establish(zone, run).then(
        ({ trust, ttl }) => {
          memo.expires = this.#now() + Math.max(1, Math.min(ttl, MAX_TRUST_SECONDS));
          return trust;
        },
        (error) => {
          if (error instanceof ValidationFailure) memo.expires = this.#now() + BOGUS_TTL_SECONDS;
          else if (this.#trust.get(key) === memo) this.#trust.delete(key);
          throw error;
        },
      ),
    };
    this.#trust.set(key, memo);
    return memo.promise;
  }

  /** Builds the trust of `zone` (see the module comment) and says for how long it holds. */
  async #establish(zone: string, run: Run): Promise<{ trust: ZoneTrust; ttl: number }> {
    const anchor = this.#anchors.find((a) => nameKey(a.zone) === nameKey(zone));
    if (anchor) {
      const { proof, ttl } = await this.#keyset(zone, run, { ds: anchor.ds, keys: anchor.keys });
      const by = proof.ds ? `${dsText(proof.ds)} of the trust anchor` : "the trust anchor's DNSKEY";
      run.steps.push(
        `${zone} DNSKEY: key ${proof.sepTag} (${
          algorithmName(proof.sep.algorithm)
        }) matches ${by} ` +
          `and signed the DNSKEY RRset (valid until ${sigTimeText(proof.sig.expiration)}); ` +
          `${proof.keys.length} zone keys trusted (${proof.keys.map(keyTag).join(", ")})`,
      );
      return { trust: { state: "secure", keys: { zone, keys: proof.keys } }, ttl };
    }
    if (zone === ".") {
      throw new ValidationFailure(
        "no trust anchor for the root",
        EDE.DNSSEC_INDETERMINATE,
        "indeterminate",
      );
    }
    const reply = await run.fetch(zone, TYPE.DS);
    const ds = reply.answers.filter((rr) =>
      rr.type === TYPE.DS && nameKey(rr.name) === nameKey(zone)
    );
    const sigSource = ds.length ? reply.answers : reply.authorities;
    const anySig = sigSource.find((rr) => rr.data.kind === "RRSIG");
    const parent = anySig?.data.kind === "RRSIG"
      ? anySig.data.signerName
      : reply.authorities.find((rr) => rr.type === TYPE.SOA)?.name ?? parentOf(zone);
    if (nameKey(parent) === nameKey(zone)) {
      throw new ValidationFailure(
        `the DS of ${zone} came signed by ${zone} itself, not its parent`,
        EDE.DNSSEC_BOGUS,
      );
    }
    // Only a zone above may vouch for this one: the chain must climb towards the anchor (a
    // signer below or beside would send the validator round in circles).
    if (!strictlyBelow(zone, parent)) {
      throw new ValidationFailure(
        `the DS of ${zone} came signed by ${parent}, which is not above it`,
        EDE.DNSSEC_BOGUS,
      );
    }
    const parentTrust = await this.#trustZone(parent, run);
    const dsTtl = smallestTtl([...reply.answers, ...reply.authorities], MAX_TRUST_SECONDS);
    if (parentTrust.state === "insecure") return { trust: parentTrust, ttl: dsTtl };
    if (ds.length) {
      const proof = await verifyRRset(ds, reply.answers, parentTrust.keys, this.#now());
      const dsData = ds.map((rr) => rr.data as DsData);
      const { proof: keys, ttl } = await this.#keyset(zone, run, { ds: dsData });
      run.steps.push(
        `${zone} DS (${dsData.map(dsText).join(", ")}): signed by ${parent} key ${proof.tag}; ` +
          `${zone} DNSKEY ${keys.sepTag} matches ${keys.ds ? dsText(keys.ds) : "it"} and signed ` +
          `${zone}'s DNSKEY RRset; ${keys.keys.length} zone keys trusted (${
            keys.keys.map(keyTag).join(", ")
          })`,
      );
      return {
        trust: { state: "secure", keys: { zone, keys: keys.keys } },
        ttl: Math.min(ttl, dsTtl),
      };
    }
    if (reply.rcode !== RCODE.NOERROR) {
      throw new ValidationFailure(
        `${parent} answered rcode ${reply.rcode} for ${zone} DS`,
        EDE.DNSSEC_BOGUS,
      );
    }
    // No DS: the parent must prove it, or the child's keys cannot be trusted.
    const soa = reply.authorities.find((rr) => rr.type === TYPE.SOA);
    if (soa) await verifyRRset([soa], reply.authorities, parentTrust.keys, this.#now());
    await this.#verifyDenialRecords(reply.authorities, parentTrust.keys);
    const denial = checkNoDs(reply.authorities, zone, parent);
    const why = `${parent} proves ${zone} has no DS (${denial.how}): an unsigned delegation`;
    run.steps.push(`${zone}: insecure: ${why}`);
    return { trust: { state: "insecure", why }, ttl: dsTtl };
  }

  async #keyset(
    zone: string,
    run: Run,
    trust: { ds: DsData[]; keys?: TrustAnchor["keys"] },
  ): Promise<{ proof: KeysetProof; ttl: number }> {
    const reply = await run.fetch(zone, TYPE.DNSKEY);
    const dnskeys = reply.answers.filter((rr) =>
      rr.type === TYPE.DNSKEY && nameKey(rr.name) === nameKey(zone)
    );
    const proof = await verifyKeyset(zone, dnskeys, reply.answers, trust, this.#now());
    return { proof, ttl: smallestTtl(dnskeys, MAX_TRUST_SECONDS) };
  }
}

function parentOf(name: string): string {
  return name.slice(name.indexOf(".") + 1) || ".";
}

/** The name an answer ends at after its CNAMEs. */
function finalName(qname: string, qtype: number, answers: readonly ResourceRecord[]): string {
  let current = qname;
  for (let hops = 0; hops < 16 && qtype !== TYPE.CNAME; hops++) {
    const cname = answers.find((rr) =>
      rr.type === TYPE.CNAME && nameKey(rr.name) === nameKey(current)
    );
    if (!cname || cname.data.kind !== "CNAME") break;
    current = cname.data.target;
  }
  return current;
}

/** Reads a trust anchor file (DS and/or DNSKEY records); throws RangeError or ZoneSyntaxError. */
export function parseTrustAnchor(text: string, file = "anchor"): TrustAnchor {
  return anchorFromRecords(parseZone(text, { file, recordsOnly: true, origin: "." }).records);
}

/** What dig-like output says under the reply: delv's phrasing. */
export function verdictLine(v: Validation): string {
  switch (v.verdict) {
    case "secure":
      return "; fully validated";
    case "insecure":
      return `; unsigned answer (${v.reason})`;
    case "bogus":
      return `;; validation failed: bogus: ${v.reason}`;
    default:
      return `;; validation indeterminate: ${v.reason}`;
  }
}

/**
 * The response a validating resolver sends instead of a Bogus answer: SERVFAIL with an Extended
 * DNS Error saying why (RFC 8914). `query` is the client's query.
 */
export function servfailFor(query: Message, validation: Validation): Message {
  const opt = query.additionals.find((rr) => rr.type === TYPE.OPT);
  const options = [edeOption(validation.ede ?? EDE.DNSSEC_BOGUS, validation.reason ?? "")];
  return {
    id: query.id,
    flags: {
      ...query.flags,
      qr: true,
      aa: false,
      tc: false,
      ra: true,
      ad: false,
      rcode: RCODE.SERVFAIL,
    },
    questions: query.questions,
    answers: [],
    authorities: [],
    additionals: opt
      ? [{
        name: ".",
        type: TYPE.OPT,
        class: EDNS_UDP_SIZE,
        ttl: opt.ttl & 0x8000,
        data: { kind: "OPT", options },
      }]
      : [],
  };
}

/** Encodes `servfailFor` (a convenience for servers). */
export function servfailBytes(query: Message, validation: Validation): Uint8Array {
  return encodeMessage(servfailFor(query, validation));
}
