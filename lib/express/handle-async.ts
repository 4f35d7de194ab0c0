import type { NextFunction, Request, Response } from 'express';

/** Run an async handler so that a rejection reaches `next(err)` (Express 4 does not catch rejected promises). */
export function handleAsync(
  fn: (req: Request, res: Response) => Promise<void>,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}
