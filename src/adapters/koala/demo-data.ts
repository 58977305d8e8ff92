import { deflateSync } from 'node:zlib';

/**
 * Demo content of the Koala simulator (simulated mode and tests). Subjects are kept in
 * Koala's own wire shape, including its untidy parts (phones as numbers or with +86 and
 * dashes, avatars as box paths, absolute URLs or "" with a photo instead), so that the
 * real client's normalisation is exercised by every run, not only by dedicated tests.
 */

/** Stands for the simulator's own base URL in demo data; replaced when a subject is sent. */
export const SELF_ORIGIN = '{koala-simulator}';

export interface KoalaSimPhoto {
  id: number;
  url: string;
}

/** A subject as Koala stores and sends it (subject_type 0 = employee, 1 = visitor). */
export interface KoalaSimSubject {
  id: number;
  subject_type: number;
  name: string;
  phone: string | number | null;
  department?: string;
  title?: string;
  avatar: string;
  photos: KoalaSimPhoto[];
  // Visitor fields (subject_type 1).
  start_time?: number;
  end_time?: number;
  interviewee?: string;
  purpose?: number;
  come_from?: string;
  remark?: string;
  create_time?: number;
}

export type Rgb = readonly [number, number, number];

/** One picture the simulator serves without a cookie, under /static/upload/…. */
export interface DemoImage {
  path: string;
  color: Rgb;
}

export const DEMO_IMAGES: readonly DemoImage[] = [
  { path: '/static/upload/avatar/zhangwei.png', color: [220, 60, 60] },
  { path: '/static/upload/avatar/lina.png', color: [60, 160, 80] },
  { path: '/static/upload/photo/wangfang.png', color: [60, 90, 200] },
  { path: '/static/upload/avatar/liuyang.png', color: [230, 180, 40] },
  { path: '/static/upload/avatar/chenjing.png', color: [150, 70, 190] },
  { path: '/static/upload/avatar/zhangmin.png', color: [40, 180, 190] },
  { path: '/static/upload/photo/sunyue.png', color: [120, 120, 120] },
];

/**
 * Demo staff. Normalised phones are 13800000001 … 13800000006; 刘洋 has no department
 * (Koala omits the field), 王芳 has no avatar but a photo, 刘洋's avatar is an absolute URL.
 */
export function demoEmployees(): KoalaSimSubject[] {
  return [
    {
      id: 1001,
      subject_type: 0,
      name: '张伟',
      phone: '13800000001',
      department: '研发部',
      title: '工程师',
      avatar: '/static/upload/avatar/zhangwei.png',
      photos: [{ id: 5001, url: '/static/upload/avatar/zhangwei.png' }],
    },
    {
      id: 1002,
      subject_type: 0,
      name: '李娜',
      phone: 13800000002,
      department: '行政部',
      title: '前台',
      avatar: '/static/upload/avatar/lina.png',
      photos: [{ id: 5002, url: '/static/upload/avatar/lina.png' }],
    },
    {
      id: 1003,
      subject_type: 0,
      name: '王芳',
      phone: '+86 138-0000-0003',
      department: '市场部',
      title: '经理',
      avatar: '',
      photos: [{ id: 5003, url: '/static/upload/photo/wangfang.png' }],
    },
    { id: 1004, subject_type: 0, name: '刘洋', phone: '8613800000004', title: '顾问', avatar: `${SELF_ORIGIN}/static/upload/avatar/liuyang.png`, photos: [] },
    {
      id: 1005,
      subject_type: 0,
      name: '陈静',
      phone: '138 0000 0005',
      department: '财务部',
      title: '会计',
      avatar: '/static/upload/avatar/chenjing.png',
      photos: [{ id: 5005, url: '/static/upload/avatar/chenjing.png' }],
    },
    {
      id: 1006,
      subject_type: 0,
      name: '张敏',
      phone: '0086-13800000006',
      department: '研发部',
      title: '测试',
      avatar: '/static/upload/avatar/zhangmin.png',
      photos: [{ id: 5006, url: '/static/upload/avatar/zhangmin.png' }],
    },
  ];
}

/** A visitor already on the box: never returned as an employee. */
export function demoVisitors(): KoalaSimSubject[] {
  const now = Math.floor(Date.now() / 1000);
  return [
    {
      id: 2001,
      subject_type: 1,
      name: '孙悦',
      phone: '13900000009',
      avatar: '',
      photos: [{ id: 5007, url: '/static/upload/photo/sunyue.png' }],
      start_time: now - 3600,
      end_time: now + 3 * 3600,
      interviewee: '张伟',
      purpose: 2,
      come_from: '某某科技',
      remark: '',
      create_time: now - 7200,
    },
  ];
}

/**
 * Demo purposes in the `{label, value}` shape of the contract (§3.8). 0–4 are Koala's usual
 * ones; 5 is extra so that a caller can tell a list read from Koala from the fixed fallback.
 */
export function demoPurposes(): Array<{ label: string; value: number }> {
  return [
    { label: '其他', value: 0 },
    { label: '面试', value: 1 },
    { label: '商务', value: 2 },
    { label: '亲友', value: 3 },
    { label: '快递送货', value: 4 },
    { label: '参观', value: 5 },
  ];
}

// --- PNG encoding -------------------------------------------------------------------------
// Hand-written because it is only test data: an 8-bit RGB image, no interlace, one IDAT.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = (CRC_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A valid PNG of one solid colour (64×64 by default). */
export function solidPng(color: Rgb, width = 64, height = 64): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // interlace
  const row = Buffer.alloc(1 + width * 3); // filter byte 0, then pixels
  for (let x = 0; x < width; x++) row.set(color, 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
