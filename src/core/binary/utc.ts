/**
 * Calendar fields of a Unix time in UTC, by arithmetic: the FAT and ISO 9660
 * writers encode three or four times per entry, and a Date with six getters
 * each time was a visible share of their per-entry cost.
 */

const DAY = 86400;

/** UTC calendar fields; `month` 1-12, `day` 1-31. */
export interface UtcFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The UTC fields of Unix time `sec` (whole seconds; a fraction is dropped, as Date drops milliseconds). */
export function utcFields(sec: number): UtcFields {
  const s = Math.floor(sec);
  const days = Math.floor(s / DAY);
  const sod = s - days * DAY;
  const hour = Math.floor(sod / 3600);
  const minute = Math.floor((sod - hour * 3600) / 60);
  return { ...civilFromDays(days), hour, minute, second: sod - hour * 3600 - minute * 60 };
}

/**
 * The proleptic Gregorian date of a count of days since 1970-01-01: Howard
 * Hinnant's civil_from_days, with 400-year eras of 146,097 days counted
 * from 0000-03-01 so that leap days fall at the end of each year.
 */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468; // days from 0000-03-01 to 1970-01-01
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097; // day of the era, 0..146096
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // day of the March-based year
  const mp = Math.floor((5 * doy + 2) / 153); // month from March, 0..11
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day: doy - Math.floor((153 * mp + 2) / 5) + 1 };
}
