// Types for the parts of luxon 3.7 that the cron schedule uses. luxon comes with cron-parser and
// ships no TypeScript declarations (@types/luxon is not installed); widen only as far as needed.
declare module 'luxon' {
  interface ZoneOptions {
    /** IANA zone name the parsed or converted time is expressed in. */
    zone?: string;
    /** Keep the offset written in the ISO text instead of converting to `zone`. */
    setZone?: boolean;
  }

  interface DurationUnits {
    years?: number;
    quarters?: number;
    months?: number;
    weeks?: number;
    days?: number;
    hours?: number;
    minutes?: number;
    seconds?: number;
    milliseconds?: number;
  }

  export class DateTime {
    static fromISO(text: string, opts?: ZoneOptions): DateTime;
    static fromMillis(ms: number, opts?: ZoneOptions): DateTime;
    readonly isValid: boolean;
    readonly invalidExplanation: string | null;
    /** Minutes east of UTC. */
    readonly offset: number;
    toMillis(): number;
    toISO(): string | null;
    plus(duration: DurationUnits): DateTime;
    setZone(zone: string, opts?: { keepLocalTime?: boolean }): DateTime;
  }

  export class Duration {
    static fromISO(text: string): Duration;
    readonly isValid: boolean;
    toObject(): DurationUnits;
    /** Casual conversion (a month is 30 days, a year 365). */
    as(unit: 'milliseconds'): number;
  }

  export class IANAZone {
    static isValidZone(zone: string): boolean;
  }
}
